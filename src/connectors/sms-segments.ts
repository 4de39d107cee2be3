// How many SMS a text costs. GSM 03.38 text fits 160 septets in one message and 153 per part when
// concatenated (the user data header takes 7); anything outside the GSM alphabet forces UCS-2: 70
// characters alone, 67 per part. Extension characters (€, [, ], ...) take two septets, and a part
// never splits one; UCS-2 parts never split a surrogate pair. Every SMS connector bills by this.

export const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
export const GSM_EXTENDED = '^{}\\[~]|€\f';
const BASIC = new Set(GSM_BASIC);
const EXTENDED = new Set(GSM_EXTENDED);

export interface SmsSegments {
  encoding: 'GSM-7' | 'UCS-2';
  /** Number of SMS parts (chargeable units). */
  count: number;
  /** The text of each part. */
  parts: string[];
}

export function isGsm7(text: string): boolean {
  for (const ch of text) if (!BASIC.has(ch) && !EXTENDED.has(ch)) return false;
  return true;
}

/**
 * `partSize` lets a sender with a longer header (a 16-bit reference UDH takes one octet more) split
 * with the same rules the bill is counted by.
 */
export function smsSegments(text: string, partSize: { gsm: number; ucs2: number } = { gsm: 153, ucs2: 67 }): SmsSegments {
  if (isGsm7(text)) {
    const cost = (ch: string) => (EXTENDED.has(ch) ? 2 : 1);
    let total = 0;
    for (const ch of text) total += cost(ch);
    if (total <= 160) return { encoding: 'GSM-7', count: 1, parts: [text] };
    return { encoding: 'GSM-7', ...split([...text], cost, partSize.gsm) };
  }
  const units = (ch: string) => ch.length; // UTF-16 code units: 2 for astral characters
  if (text.length <= 70) return { encoding: 'UCS-2', count: 1, parts: [text] };
  return { encoding: 'UCS-2', ...split([...text], units, partSize.ucs2) };
}

export function split(chars: string[], cost: (ch: string) => number, size: number): { count: number; parts: string[] } {
  const parts: string[] = [];
  let current = '';
  let used = 0;
  for (const ch of chars) {
    const c = cost(ch);
    if (used + c > size) {
      parts.push(current);
      current = '';
      used = 0;
    }
    current += ch;
    used += c;
  }
  if (current) parts.push(current);
  return { count: parts.length, parts };
}
