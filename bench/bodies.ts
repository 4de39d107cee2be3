// Request bodies shared by the load generator and the in-process writer benchmark.

/**
 * A text SMS to receiver number k of `receivers` (k rotates through all of them): `${prefix}` + five
 * digits of k + "00", e.g. +31 61 01234 00. Ending in 00 keeps clear of the sandbox connector's magic
 * numbers (last four digits 1001-1012 pick failures, retries, auto-replies; src/connectors/sandbox),
 * so every message takes the ordinary accepted -> sent -> delivered path.
 * `tag` marks the run phase in `reference` so rows can be counted per phase.
 */
export function smsBody(prefix: string, i: number, receivers: number, tag = 'm') {
  const k = (i * 7919) % receivers;
  return {
    receiver: { contacts: [{ identifierValue: `${prefix}${String(k).padStart(5, '0')}00` }] },
    body: {
      type: 'text',
      text: { text: `Your verification code is ${String((i * 48271) % 1_000_000).padStart(6, '0')}. It expires in 10 minutes.` },
    },
    reference: `bench-${tag}-${i}`,
  };
}
