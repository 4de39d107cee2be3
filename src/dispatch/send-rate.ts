import type { Channel } from '../channels/channels.ts';

// Per-channel send rate (channel settings `sendRatePerSecond`): a token bucket per channel. A message
// over the rate is not dropped: the dispatcher puts it back, due when the next token is. Buckets are
// per process, so N worker processes may together send up to N times the rate.
export class SendRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** 0 if the message may go now, else how many ms until it may. */
  take(channel: Channel, now: number): number {
    const rate = Number(channel.settings.sendRatePerSecond);
    if (!Number.isFinite(rate) || rate <= 0) return 0;
    const key = `${channel.workspaceId}:${channel.id}`;
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { tokens: rate, at: now }));
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / rate) * 1000);
  }
}
