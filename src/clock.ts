import ms from 'ms';

// The one question Aviary asks about time: what time is it? Everything that schedules (due times,
// leases, retries, validity, service windows, link expiry) and everything that stamps (createdAt,
// status history, interactions) asks a Clock rather than the system, so the emulator can run on a
// virtual clock (virtual-clock.ts) that stands still until a test moves it, with no second code path.
//
// What stays on the system's time on purpose: durations of real work (timeouts, socket deadlines, a
// session's send pacing, backoff after a database outage). A provider or a database does not wait for
// a virtual clock, so those count real milliseconds in both modes.

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** "8h", "90s", "2 days", "1500ms" or a number of milliseconds; undefined when it is neither. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value.length > 100) return undefined;
  const n = ms(value as ms.StringValue);
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}
