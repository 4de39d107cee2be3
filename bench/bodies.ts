// Request bodies shared by the load generator and the in-process writer benchmark.

/** Receivers rotate through `receivers` distinct E.164 numbers under `prefix` (e.g. "+3161" + 7 digits). */
export function smsBody(prefix: string, i: number, receivers: number) {
  const k = (i * 7919) % receivers;
  return {
    receiver: { contacts: [{ identifierValue: `${prefix}${String(k).padStart(7, '0')}` }] },
    body: {
      type: 'text',
      text: { text: `Your verification code is ${String((i * 48271) % 1_000_000).padStart(6, '0')}. It expires in 10 minutes.` },
    },
    reference: `bench-${i}`,
  };
}
