import { createHash } from 'node:crypto';
import { failures, type Failure } from '../failures.ts';
import type { FollowUp, OutboundMessage, OutboundRecipient, SendResult } from '../connector.ts';

// Failure injection on demand (PUT /workspaces/{ws}/sandbox/chaos, docs/sandbox.md): rules a test sets
// on a workspace, or on one of its channels, that make the sandbox provider misbehave for a share of
// messages or for receivers matching a pattern. Pure functions of the rules and the message: no clock,
// no Math.random. Whether a rule picks a message is a hash of the seed, the rule's position, the
// message's reference (its id when it has none) and the receiver, so the same seed picks the same
// messages in every process, on every retry, and, with references set, on every run of a test.

export type ChaosAction = 'fail' | 'delayReceipts' | 'dropReceipts' | 'duplicateReceipts' | 'throttle' | 'delayWebhooks';
export const CHAOS_ACTIONS: ChaosAction[] = ['fail', 'delayReceipts', 'dropReceipts', 'duplicateReceipts', 'throttle', 'delayWebhooks'];

export interface ChaosRule {
  action: ChaosAction;
  /** Only this channel's messages (and, for delayWebhooks, its events); absent: the whole workspace. */
  channelId?: string;
  /** Only receivers whose identifier matches: `*` stands for any run of characters, case-insensitive. */
  receiver?: string;
  /** The share of matching messages the rule picks, 0 to 1 (default 1: all). */
  share?: number;
  /** fail: the Bird failure code (FAILURE_CODES). */
  code?: number;
  /** fail: when the failure shows: refused at `send` (sending_failed) or reported by a `receipt` (delivery_failed). */
  at?: 'send' | 'receipt';
  /** fail at send: retried with backoff (the default for 12001 and 15001), or final at once. */
  retryable?: boolean;
  /** delayReceipts, delayWebhooks: how much later. */
  delayMs?: number;
  /** duplicateReceipts: how many times each receipt arrives (default 2). */
  copies?: number;
  /** throttle: how many attempts are answered "throttled" (default 1), and the Retry-After they name (default 1000 ms). */
  attempts?: number;
  retryAfterMs?: number;
}

export interface ChaosConfig {
  seed: string;
  rules: ChaosRule[];
}

/** Where a sandbox session finds its workspace's rules: a per-process cache (sandbox/chaos-store.ts), not a query per send. */
export interface ChaosSource {
  rulesFor(workspaceId: string): Promise<ChaosConfig | undefined>;
}

interface FailureKind {
  make(source: string): Failure;
  at: 'send' | 'receipt';
  retryable: boolean;
}

// The failures a provider can cause, by Bird code. Aviary's own pre-processing refusals (11xxx, 12007)
// happen before a message reaches any provider, so a provider cannot inject them.
export const FAILURE_CODES: Record<number, FailureKind> = {
  12001: { make: (s) => failures.dependencyError('the provider is unavailable', s), at: 'send', retryable: true },
  12002: { make: (s) => failures.unsupportedType('refused by the provider', s), at: 'send', retryable: false },
  12003: { make: (s) => failures.unsupportedDestination('no route to the receiver', s), at: 'send', retryable: false },
  12006: { make: (s) => failures.invalidMessage('refused by the provider', s), at: 'send', retryable: false },
  15001: { make: (s) => failures.networkError(s), at: 'send', retryable: true },
  15002: { make: (s) => failures.rejected(s, '5'), at: 'send', retryable: false },
  15004: { make: (s) => failures.deliveryExpired(s, '3'), at: 'receipt', retryable: false },
  15005: { make: (s) => failures.unknownSubscriber(s, '1'), at: 'receipt', retryable: false },
  15006: { make: () => failures.reEngagementRequired(), at: 'send', retryable: false },
};

/** A number in [0, 1) from the seed, the rule's position and what the rule decides about. */
export function chaosDraw(seed: string, ruleIndex: number, key: string): number {
  const h = createHash('sha256').update(`${seed}\0${ruleIndex}\0${key}`).digest();
  return h.readUInt32BE(0) / 0x1_0000_0000;
}

/**
 * `*` matches any run of characters, everything else itself, ignoring case. The classic two-pointer
 * wildcard match: linear in practice and never worse than |pattern| x |value|, so a rule cannot make
 * sends slow the way a backtracking regular expression could.
 */
export function globMatch(pattern: string, value: string): boolean {
  const p = pattern.toLowerCase();
  const v = value.toLowerCase();
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < v.length) {
    if (i < p.length && p[i] !== '*' && p[i] === v[j]) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      mark = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++mark;
    } else return false;
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}

function picks(config: ChaosConfig, index: number, rule: ChaosRule, msg: OutboundMessage, to: OutboundRecipient): boolean {
  if (rule.action === 'delayWebhooks') return false;
  if (rule.channelId !== undefined && rule.channelId !== msg.channel.id) return false;
  if (rule.receiver !== undefined && !globMatch(rule.receiver, to.identifierValue)) return false;
  const share = rule.share ?? 1;
  if (share >= 1) return true;
  return chaosDraw(config.seed, index, `${msg.reference ?? msg.id}\0${to.identifierValue}`) < share;
}

/**
 * What the rules do to one send. `base` is what the sandbox would answer without them (its magic
 * receivers included); the result replaces it. Every rule that picks the message applies, in order:
 * the first `fail` or `throttle` decides the answer, receipt rules then reshape the receipts.
 */
export function applyChaos(config: ChaosConfig | undefined, msg: OutboundMessage, receiptDelayMs: number, base: () => SendResult): SendResult {
  if (!config || config.rules.length === 0) return base();
  const to = msg.recipients[0];
  const chosen = config.rules.map((rule, i) => [rule, i] as const).filter(([rule, i]) => picks(config, i, rule, msg, to));
  if (chosen.length === 0) return base();
  const source = msg.channel.platformId;
  let receiptFailure: Failure | undefined;
  for (const [rule] of chosen) {
    if (rule.action === 'throttle' && msg.attempt <= (rule.attempts ?? 1)) {
      // Spends an attempt (like the `throttled` magic receiver), so the message goes through after
      // `attempts` of them rather than being put back forever.
      return { ok: false, retryable: true, retryAfterMs: rule.retryAfterMs ?? 1000, failure: failures.networkError(source, '429'), reason: 'throttled (chaos)' };
    }
    if (rule.action === 'fail') {
      const kind = FAILURE_CODES[rule.code!];
      const failure = kind.make(source);
      if ((rule.at ?? kind.at) === 'send') {
        return { ok: false, retryable: rule.retryable ?? kind.retryable, failure, reason: `${failure.description} (chaos)`, details: 'chaos' };
      }
      receiptFailure = failure;
      break;
    }
  }
  const result = base();
  if (!result.ok) return result;
  let followUps: FollowUp[] = result.followUps ?? [];
  if (receiptFailure && !result.final) {
    // In place of whatever the receiver would have reported, when its receipt would have come.
    const afterMs = followUps.find((f) => f.event.kind === 'status')?.afterMs ?? receiptDelayMs;
    const event: FollowUp['event'] = {
      kind: 'status',
      messageId: msg.id,
      status: 'delivery_failed',
      failure: receiptFailure,
      reason: `${receiptFailure.description} (chaos)`,
      details: 'chaos',
      ...(msg.receiverIndex === undefined ? {} : { receiver: msg.receiverIndex }),
    };
    followUps = [{ afterMs, event }];
  }
  for (const [rule] of chosen) {
    if (rule.action === 'dropReceipts') followUps = followUps.filter((f) => f.event.kind !== 'status');
    else if (rule.action === 'delayReceipts') followUps = followUps.map((f) => (f.event.kind === 'status' ? { ...f, afterMs: f.afterMs + rule.delayMs! } : f));
    else if (rule.action === 'duplicateReceipts') {
      const copies = rule.copies ?? 2;
      // Each copy a millisecond later than the one before, so they arrive one after the other.
      followUps = followUps.flatMap((f) => (f.event.kind === 'status' ? Array.from({ length: copies }, (_, n) => ({ ...f, afterMs: f.afterMs + n })) : [f]));
    }
  }
  return { ...result, followUps };
}

/** How long the rules hold back a webhook event of this workspace (0: not at all). */
export function webhookDelayMs(config: ChaosConfig | undefined, event: { channelId: string | null; orderKey: string | null; event: string }): number {
  if (!config) return 0;
  let delay = 0;
  config.rules.forEach((rule, i) => {
    if (rule.action !== 'delayWebhooks') return;
    if (rule.channelId !== undefined && rule.channelId !== event.channelId) return;
    const share = rule.share ?? 1;
    // By the event's order key (its message or channel): every event of one message is held back alike.
    if (share < 1 && chaosDraw(config.seed, i, event.orderKey ?? event.event) >= share) return;
    delay = Math.max(delay, rule.delayMs ?? 0);
  });
  return delay;
}
