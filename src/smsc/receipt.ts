import { MESSAGE_STATES, type ReceiptFaults, type ReceiptStat } from './faults.ts';

// The deliver_sm of a delivery receipt, as SMSCs commonly send it: the SMPP 3.4 appendix B text in
// short_message ("id:... sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD
// err:000 text:...") and/or the receipted_message_id and message_state TLVs, esm_class 0x04, with
// source and destination swapped (the receipt comes from the handset).

export const ESM_DELIVERY_RECEIPT = 0x04;

export interface ReceiptInput {
  /** The message id as the receipt spells it. */
  id: string;
  source: string;
  destination: string;
  stat: ReceiptStat;
  err: string;
  submittedAt: Date;
  doneAt: Date;
  /** The first characters of the message, for the `text:` field. */
  text: string;
}

function smppDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
}

export function receiptText(r: ReceiptInput): string {
  const dlvrd = r.stat === 'DELIVRD' ? '001' : '000';
  // Only printable ASCII in text:, which reads the same in GSM 03.38 and Latin-1 (how ESMEs read data_coding 0).
  const snippet = [...r.text].slice(0, 20).map((ch) => (/^[ -~]$/.test(ch) && ch !== '@' && ch !== '_' && ch !== '$' ? ch : '.')).join('');
  return `id:${r.id} sub:001 dlvrd:${dlvrd} submit date:${smppDate(r.submittedAt)} done date:${smppDate(r.doneAt)} stat:${r.stat} err:${r.err} text:${snippet}`;
}

export function receiptFields(r: ReceiptInput, carrier: ReceiptFaults['carrier']): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    source_addr_ton: 1,
    source_addr_npi: 1,
    source_addr: r.destination,
    dest_addr_ton: 1,
    dest_addr_npi: 1,
    destination_addr: r.source,
    esm_class: ESM_DELIVERY_RECEIPT,
    data_coding: 0,
    short_message: carrier === 'tlv' ? Buffer.alloc(0) : Buffer.from(receiptText(r), 'latin1'),
  };
  if (carrier !== 'text') {
    fields.receipted_message_id = r.id;
    fields.message_state = MESSAGE_STATES[r.stat];
    // network_error_code: network type 3 (GSM) and the error, where a TLV-only receipt carries err.
    const err = Number(r.err) || 0;
    if (err) fields.network_error_code = Buffer.from([3, (err >> 8) & 0xff, err & 0xff]);
  }
  return fields;
}

/** The id as the receipt spells it, from the id submit_sm_resp gave (decimal or hex digits). */
export function receiptId(responseId: string, responseFormat: 'decimal' | 'hex', idFormat: ReceiptFaults['idFormat']): string {
  if (idFormat === 'same' || idFormat === responseFormat) return responseId;
  const n = BigInt(responseFormat === 'hex' ? `0x${responseId}` : responseId);
  return idFormat === 'hex' ? n.toString(16) : n.toString(10);
}
