import { errors } from '../errors.ts';

// Requests with unknown or revoked keys, counted per client address: each costs a database lookup
// (distinct keys get past the negative cache), so a client guessing keys is held to `perMinute`
// failures a minute, with a burst of as many. Over it, requests whose key is not known to be good are
// refused with 429 before any lookup. Behind a reverse proxy every client has the proxy's address:
// the keys that recently worked are exempt (authenticate.ts), so a flood of bad keys through the
// proxy does not lock out the clients with good ones.

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_CLIENTS = 100_000;

export class AuthFailureLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  /** `perMinute` 0: no limit. */
  constructor(private readonly perMinute: number) {
    this.perMs = perMinute / 60_000;
  }

  /**
   * Takes one failure from this client's allowance before its key is looked up, or throws the 429.
   * Taken first rather than counted after, so that a burst of concurrent requests cannot all pass
   * before the first of them has failed; a key that turns out good gives it back (refund).
   */
  take(client: string, now = Date.now()): void {
    if (this.perMinute === 0) return;
    let b = this.refill(client, now);
    if (!b) {
      // Crude but bounded, like the other per-process maps: an attacker with very many addresses
      // resets everyone's count rather than growing memory.
      if (this.buckets.size >= MAX_CLIENTS) this.buckets.clear();
      b = { tokens: this.perMinute, at: now };
      this.buckets.set(client, b);
    }
    if (b.tokens < 1) throw errors.authFailuresLimited(Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000)));
    b.tokens -= 1;
  }

  refund(client: string): void {
    const b = this.buckets.get(client);
    if (b) b.tokens = Math.min(this.perMinute, b.tokens + 1);
  }

  private refill(client: string, now: number): Bucket | undefined {
    const b = this.buckets.get(client);
    if (!b) return undefined;
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    // A full bucket is the same as none: forget it, so the map holds only recent offenders.
    if (b.tokens >= this.perMinute) {
      this.buckets.delete(client);
      return undefined;
    }
    return b;
  }

  reset(): void {
    this.buckets.clear();
  }
}
