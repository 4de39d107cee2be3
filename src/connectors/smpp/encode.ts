import { GSM_BASIC, GSM_EXTENDED, isGsm7, smsSegments, split } from '../sms-segments.ts';
import type { SmppConfig } from './config-schema.ts';

// Text -> the submit_sm fields of each part. Splitting is the one in sms-segments.ts, so what is
// billed is what is sent. GSM-7 goes unpacked (one septet per octet), as SMPP carries it; extension
// characters are ESC + code and, since split() never breaks a character, never straddle two parts.

export const DC_GSM = 0x00;
export const DC_LATIN1 = 0x03;
export const DC_UCS2 = 0x08;
export const ESM_UDHI = 0x40;

const GSM_CODE = new Map<string, number>([...GSM_BASIC].map((ch, i) => [ch, i]));
// The code each extension character has after the 0x1B escape (GSM 03.38 table 6.2.1.1).
const GSM_EXT_CODE = new Map<string, number>([
  ['^', 0x14], ['{', 0x28], ['}', 0x29], ['\\', 0x2f], ['[', 0x3c], ['~', 0x3d], [']', 0x3e], ['|', 0x40], ['€', 0x65], ['\f', 0x0a],
]);
const GSM_EXT_CHAR = new Map([...GSM_EXT_CODE].map(([ch, code]) => [code, ch]));

export function gsmEncode(text: string): Buffer {
  const out: number[] = [];
  for (const ch of text) {
    const ext = GSM_EXT_CODE.get(ch);
    if (ext !== undefined && GSM_EXTENDED.includes(ch)) out.push(0x1b, ext);
    else out.push(GSM_CODE.get(ch) ?? 0x20);
  }
  return Buffer.from(out);
}

export function gsmDecode(bytes: Buffer): string {
  let text = '';
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x1b && i + 1 < bytes.length) text += GSM_EXT_CHAR.get(bytes[++i]) ?? ' ';
    else text += GSM_BASIC[bytes[i] & 0x7f] ?? ' ';
  }
  return text;
}

export function ucs2Encode(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  return le.swap16();
}

export function ucs2Decode(bytes: Buffer): string {
  const copy = Buffer.from(bytes.subarray(0, bytes.length - (bytes.length % 2)));
  return copy.swap16().toString('utf16le');
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

export interface PartFields {
  data_coding: number;
  esm_class: number;
  short_message?: Buffer;
  message_payload?: Buffer;
  sar_msg_ref_num?: number;
  sar_total_segments?: number;
  sar_segment_seqnum?: number;
}

export interface EncodedText {
  dataCoding: number;
  texts: string[];
  parts: PartFields[];
}

/** Splits and encodes; `ref` is the session's next concatenation reference (wrapped by the caller's counter). */
export function encodeText(text: string, config: Pick<SmppConfig, 'dataCoding' | 'concatenation'>, ref: number): EncodedText {
  // The 16-bit-reference UDH is 7 octets instead of 6: one GSM septet and half a UCS-2 unit less per part.
  const udh16 = config.concatenation === 'udh16';
  let dataCoding: number;
  let texts: string[];
  let bytes: (t: string) => Buffer;
  if (isGsm7(text)) {
    dataCoding = DC_GSM;
    texts = smsSegments(text, udh16 ? { gsm: 152, ucs2: 66 } : undefined).parts;
    bytes = gsmEncode;
  } else if (config.dataCoding === 'latin1' && isLatin1(text)) {
    // Only offered when the SMSC is known to take Latin-1: 140 octets, 134 per part with a UDH.
    dataCoding = DC_LATIN1;
    texts = text.length <= 140 ? [text] : split([...text], () => 1, udh16 ? 133 : 134).parts;
    bytes = (t) => Buffer.from(t, 'latin1');
  } else {
    dataCoding = DC_UCS2;
    texts = smsSegments(text, udh16 ? { gsm: 152, ucs2: 66 } : undefined).parts;
    bytes = ucs2Encode;
  }
  if (texts.length === 0) texts = [''];
  if (texts.length === 1) return { dataCoding, texts, parts: [{ data_coding: dataCoding, esm_class: 0, short_message: bytes(texts[0]) }] };
  if (config.concatenation === 'payload') {
    // One PDU, the SMSC splits; billed by the same part count.
    return { dataCoding, texts, parts: [{ data_coding: dataCoding, esm_class: 0, message_payload: bytes(text) }] };
  }
  const total = texts.length;
  const parts = texts.map((t, i): PartFields => {
    const seq = i + 1;
    if (config.concatenation === 'sar') {
      return { data_coding: dataCoding, esm_class: 0, short_message: bytes(t), sar_msg_ref_num: ref & 0xffff, sar_total_segments: total, sar_segment_seqnum: seq };
    }
    const udh = udh16
      ? Buffer.from([0x06, 0x08, 0x04, (ref >> 8) & 0xff, ref & 0xff, total, seq])
      : Buffer.from([0x05, 0x00, 0x03, ref & 0xff, total, seq]);
    return { data_coding: dataCoding, esm_class: ESM_UDHI, short_message: Buffer.concat([udh, bytes(t)]) };
  });
  return { dataCoding, texts, parts };
}

/** Decodes user data by data_coding; `smscDefault` is how this SMSC reads 0. */
export function decodeBytes(bytes: Buffer, dataCoding: number, smscDefault: 'gsm7' | 'latin1'): string {
  const dc = dataCoding & 0x0f;
  if (dc === DC_UCS2) return ucs2Decode(bytes);
  if (dc === DC_LATIN1 || (dc === 0 && smscDefault === 'latin1')) return bytes.toString('latin1');
  if (dc === 0x01) return bytes.toString('ascii');
  return gsmDecode(bytes);
}
