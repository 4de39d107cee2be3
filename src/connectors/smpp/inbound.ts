import type { ProviderEvent } from '../connector.ts';
import type { SmppConfig } from './config-schema.ts';
import { decodeBytes } from './encode.ts';
import { concatInfo, userData } from './raw-pdu.ts';

// A mobile-originated deliver_sm -> a kind:'inbound' event. Concatenated MO (UDH or SAR) is reported
// part by part with `part`: the runtime keeps the pieces durably and joins them, so a part is
// acknowledged to the SMSC as soon as it is stored and nothing is held in this process's memory.

export function e164(address: string): string {
  const digits = address.replace(/^\+/, '').replace(/^00/, '');
  return `+${digits}`;
}

export function inboundEvent(pdu: Record<string, any>, config: Pick<SmppConfig, 'dataCoding'>): ProviderEvent {
  const { udh, text } = userData(pdu.short_message?.length ? pdu.short_message : pdu.message_payload, pdu.esm_class ?? 0);
  const decoded = decodeBytes(text, pdu.data_coding ?? 0, config.dataCoding);
  const from = e164(String(pdu.source_addr ?? ''));
  const event: ProviderEvent & { kind: 'inbound' } = {
    kind: 'inbound',
    contact: { identifierKey: 'phonenumber', identifierValue: from },
    body: { type: 'text', text: { text: decoded } },
  };
  const udhConcat = concatInfo(udh);
  const sar = typeof pdu.sar_msg_ref_num === 'number' && typeof pdu.sar_total_segments === 'number'
    ? { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum ?? 1 }
    : undefined;
  const concat = udhConcat ?? sar;
  if (concat && concat.total > 1) event.part = { key: `${from}:${concat.ref}`, total: concat.total, seq: concat.seq, text: decoded };
  return event;
}
