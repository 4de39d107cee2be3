import { randomFillSync, randomUUID } from 'node:crypto';

// UUIDv7: time-ordered, so new rows land at the right edge of the primary-key index instead of
// scattering across it, and ids sort like createdAt, which keyset pagination relies on to break ties.
let lastMs = 0;
let seq = 0;
// Random bytes drawn 4 KiB at a time (as randomUUID does with its own cache): a call into OpenSSL
// per id was 3% of the worker's CPU in bench smpp-pipeline (several ids per message).
const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;
export function uuidv7(now = Date.now()): string {
  // A 12-bit counter in rand_a keeps ids generated within the same millisecond strictly increasing.
  if (now <= lastMs) {
    seq++;
    if (seq > 0xfff) {
      lastMs++;
      seq = 0;
    }
    now = lastMs;
  } else {
    lastMs = now;
    seq = 0;
  }
  if (poolAt + 16 > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  const b = POOL.subarray(poolAt, (poolAt += 16));
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | (seq >> 8);
  b[7] = seq & 0xff;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** `bytes` random bytes as hex, from the same pool (MIME boundaries: nodemailer draws 8 from OpenSSL per part). */
export function randomHex(bytes: number): string {
  if (poolAt + bytes > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  return POOL.toString('hex', poolAt, (poolAt += bytes));
}

export const uuidv4 = randomUUID;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** The millisecond timestamp a UUIDv7 was made at (its first 48 bits). */
export function uuidv7Time(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}
