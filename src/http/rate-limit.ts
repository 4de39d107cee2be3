import { errors } from '../errors.ts';

// Bird limits each workspace to 50 GET and 500 write requests per second. A token bucket per
// (workspace, class) allows that rate with a one-second burst. Buckets live in this process: with N
// processes behind a load balancer a workspace gets up to N times the limit, which errs on the side
// of not refusing legitimate traffic.

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limits: { get: number; write: number }) {}

  take(workspaceId: string, method: string, now = Date.now()): void {
    const cls = method === 'GET' || method === 'HEAD' ? 'get' : 'write';
    const rate = cls === 'get' ? this.limits.get : this.limits.write;
    const key = `${workspaceId}:${cls}`;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size > 100_000) this.buckets.clear();
      b = { tokens: rate, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.tokens < 1) throw errors.rateLimited(Math.max(1, Math.ceil((1 - b.tokens) / rate)));
    b.tokens -= 1;
  }

  reset(): void {
    this.buckets.clear();
  }
}
