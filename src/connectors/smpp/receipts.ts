import type { ProviderEvent, ReportedStatus } from '../connector.ts';
import { failures, type Failure } from '../failures.ts';
import type { SmppConfig } from './config-schema.ts';
import { decodeBytes } from './encode.ts';
import { userData } from './raw-pdu.ts';

// A delivery receipt (deliver_sm with esm_class & 0x04) -> a kind:'receipt' event. The TLVs
// receipted_message_id / message_state are preferred when present: the text form is only a
// convention (SMPP 3.4 appendix B) that vendors vary.

// message_state values (SMPP 3.4 5.3.2.35) -> the stat words of the text form.
const STATE_WORDS = ['SCHEDULED', 'ENROUTE', 'DELIVRD', 'EXPIRED', 'DELETED', 'UNDELIV', 'ACCEPTD', 'UNKNOWN', 'REJECTD', 'SKIPPED'];

export interface ParsedReceipt {
  id: string;
  stat: string;
  err: string;
  fields: Record<string, string>;
}

export function parseReceiptText(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  // Keys may contain a space ("submit date"); values run to the next key. `text:` is last and free-form.
  const re = /(id|sub|dlvrd|submit date|done date|stat|err|text):/gi;
  const marks = [...text.matchAll(re)];
  marks.forEach((m, i) => {
    const end = i + 1 < marks.length ? marks[i + 1].index! : text.length;
    fields[m[1].toLowerCase()] = text.slice(m.index! + m[0].length, end).trim();
  });
  return fields;
}

/** The receipt's id spelled as submit_sm_resp spelled it (see receiptIdFormat). */
export function normaliseId(id: string, format: SmppConfig['receiptIdFormat']): string {
  try {
    // 'hex': receipts are hex, responses decimal. 'decimal': the reverse; hex is written in upper case.
    if (format === 'hex' && /^[0-9a-f]+$/i.test(id)) return BigInt(`0x${id}`).toString(10);
    if (format === 'decimal' && /^\d+$/.test(id)) return BigInt(id).toString(16).toUpperCase();
  } catch {
    // Not a number after all: keep it as sent.
  }
  return id;
}

export function parseReceipt(pdu: Record<string, any>, config: Pick<SmppConfig, 'dataCoding'>): ParsedReceipt {
  const { text } = userData(pdu.short_message?.length ? pdu.short_message : pdu.message_payload, pdu.esm_class ?? 0);
  const fields = parseReceiptText(decodeBytes(text, pdu.data_coding ?? 0, config.dataCoding));
  const tlvId = typeof pdu.receipted_message_id === 'string' && pdu.receipted_message_id ? pdu.receipted_message_id : undefined;
  const tlvState = typeof pdu.message_state === 'number' ? STATE_WORDS[pdu.message_state] : undefined;
  const id = tlvId ?? fields.id;
  if (!id) throw new Error('delivery receipt without a message id');
  // network_error_code (0x0423): network type, then a 2-octet error; what TLV-only receipts carry as err.
  const nec = Buffer.isBuffer(pdu.network_error_code) && pdu.network_error_code.length === 3 ? String(pdu.network_error_code.readUInt16BE(1)).padStart(3, '0') : undefined;
  return { id, stat: (tlvState ?? fields.stat ?? 'UNKNOWN').toUpperCase(), err: fields.err ?? nec ?? '', fields };
}

function outcome(stat: string, err: string, source: string): { status: ReportedStatus; failure?: Failure; reason?: string } {
  if (stat === 'DELIVRD') return { status: 'delivered' };
  if (stat === 'ACCEPTD' || stat === 'ENROUTE' || stat === 'SCHEDULED') return { status: 'sent' };
  const code = err && err !== '000' ? String(Number(err) || err) : undefined;
  if (code === '1') return { status: 'delivery_failed', failure: failures.unknownSubscriber(source, '1'), reason: 'unknown subscriber' };
  if (stat === 'EXPIRED') return { status: 'delivery_failed', failure: failures.deliveryExpired(source, code), reason: 'expired' };
  if (stat === 'REJECTD') return { status: 'delivery_failed', failure: failures.rejected(source, code), reason: 'rejected' };
  return { status: 'delivery_failed', failure: failures.networkError(source, code), reason: stat === 'UNDELIV' ? 'undeliverable' : stat.toLowerCase() };
}

export function receiptEvent(pdu: Record<string, any>, config: Pick<SmppConfig, 'dataCoding' | 'receiptIdFormat' | 'receiptSettles'>, source: string): ProviderEvent {
  const r = parseReceipt(pdu, config);
  const o = outcome(r.stat, r.err, source);
  return {
    kind: 'receipt',
    reference: normaliseId(r.id, config.receiptIdFormat),
    status: o.status,
    settles: config.receiptSettles,
    ...(o.failure ? { failure: o.failure } : {}),
    ...(o.reason ? { reason: o.reason } : {}),
    details: `stat:${r.stat}${r.err ? ` err:${r.err}` : ''}`,
  };
}
