// Request bodies shared by the load generator and the in-process writer benchmark.
//
// Receivers: a known set of KNOWN_RECEIVERS Dutch mobile numbers (+31 61 kkkkk 00) whose contacts are
// created before the measured run (bench/post-messages.ts seeds them through the real writer), plus,
// in the measured run, every `newEvery`-th message to a never-seen UK mobile number (+44 7 iiiiiii 00),
// so each run has the same mix of contact reuse (cache hit) and contact creation whatever its length.
// Every number ends in 00, clear of the sandbox connector's magic endings 1001-1012 (failures,
// retries, auto-replies; src/connectors/sandbox/scenarios.ts): every message takes the ordinary
// accepted -> sent -> delivered path.

export const KNOWN_RECEIVERS = 10_000;

export const knownNumber = (k: number) => `+3161${String(k % KNOWN_RECEIVERS).padStart(5, '0')}00`;
export const newNumber = (i: number) => `+447${String(i % 10_000_000).padStart(7, '0')}00`;

/** References of sends that a server started with injectFailures makes fail in the write (bench/serve-for-bench.ts). */
export const FAIL_REFERENCE = 'bench-fail-';

export interface BodyOptions {
  /** Marks the run phase in `reference` (bench-<tag>-<i>) so rows can be counted per phase. */
  tag: string;
  /** Every newEvery-th message goes to a new receiver (0: known receivers only). */
  newEvery: number;
}

export function smsBody(i: number, o: BodyOptions) {
  const fresh = o.newEvery > 0 && i % o.newEvery === o.newEvery - 1;
  // 7919 is prime to 10,000, so consecutive i visit all known receivers before repeating one.
  const to = fresh ? newNumber(i) : knownNumber(i * 7919);
  return {
    receiver: { contacts: [{ identifierValue: to }] },
    body: {
      type: 'text',
      text: { text: `Your verification code is ${String((i * 48271) % 1_000_000).padStart(6, '0')}. It expires in 10 minutes.` },
    },
    reference: `bench-${o.tag}-${i}`,
  };
}
