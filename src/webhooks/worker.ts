import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import { isConnectionLost, retryWhileConnectionLost } from '../db/connection-loss.ts';
import type { Db } from '../db/database.ts';
import { Signal } from '../db/signal.ts';
import { runWorkerLoop, type RoundResult } from '../db/worker-loop.ts';
import { uuidv7 } from '../ids.ts';
import {
  claimDeliveries,
  hasDueDeliveries,
  nextDeliveryDueAt,
  pruneDeliveries,
  recordHealth,
  recordOutcomes,
  releaseDeliveries,
  type AttemptOutcome,
  type ClaimedDelivery,
} from './deliveries.ts';
import type { DeliveryTaker, Outbox } from './emit.ts';
import { HttpSender, type AttemptResult } from './http-sender.ts';
import type { TimedWork } from '../virtual-clock.ts';

// The webhook worker, modelled on the message dispatcher: one loop claims due deliveries (SKIP LOCKED,
// leased), starts their HTTP attempts and goes back for more while there is room; results are written
// in batches by a group commit. Any number of processes can run one against the same PostgreSQL.
//
//   - At least once: a delivery stays due until its outcome is recorded. If this process dies with
//     attempts in flight, their leases (2 x timeout) run out and any worker sends them again, with the
//     same request id and timestamp.
//   - Order: the claim only takes the oldest unfinished delivery of each (subscription, message or
//     channel), so a subscriber receives one message's events one at a time, in the order they happened.
//   - Room: at most `concurrency` attempts in flight per process, at most half of them to one
//     subscription (so one slow endpoint cannot starve the others).
//   - Retries: 2xx is success; anything else (including timeouts and connection errors) is retried after
//     min(retryBaseMs * 2^(n-1), retryMaxDelayMs), or Retry-After on 429/503 if longer, until
//     retryWindowMs after the event; then the delivery has failed.
//   - Health: a subscription whose every attempt failed for disableAfterMs becomes inactive.
//   - Logs: finished deliveries older than logRetentionMs are pruned (every 10 minutes).

export interface WebhookWorkerOptions {
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxDelayMs: number;
  retryWindowMs: number;
  concurrency: number;
  socketsPerOrigin: number;
  disableAfterMs: number;
  logRetentionMs: number;
  allowPrivateUrls: boolean;
  pollMs: number;
  /** Outcome-recording statements at once (PGlite: 1). */
  recordConcurrency: number;
  /**
   * Wake on events emitted in this process (PGlite: the claim then queues behind the emitting
   * transaction on the single session, so it sees its rows). On PostgreSQL the emitting transaction's
   * NOTIFY wakes every worker on commit instead; an earlier wake would only claim before the commit.
   */
  wakeOnLocalEmit: boolean;
  /** Take deliveries as the outbox writes them, when there is room (emit.ts DeliveryTaker); else only by claims. */
  takeAtEmit: boolean;
  batchSize?: number;
}

export interface WebhookWorkerDeps {
  db: Db;
  log: Logger;
  /** Due times, retry schedules and attempt stamps; request timeouts stay on the system's time. */
  clock: Clock;
  outbox: Outbox;
}

const PRUNE_EVERY_MS = 10 * 60_000;
const EXCLUDING_BACKOFF_MS = 250;
const HEALTHY_REFRESH_MS = 5_000;

/** The worker's options from Aviary's config. */
export function webhookWorkerOptions(config: Config, kind: 'pglite' | 'postgres'): WebhookWorkerOptions {
  return {
    timeoutMs: config.webhookTimeoutMs,
    retryBaseMs: config.webhookRetryBaseMs,
    retryMaxDelayMs: config.webhookRetryMaxDelayMs,
    retryWindowMs: config.webhookRetryWindowMs,
    concurrency: config.webhookConcurrency,
    socketsPerOrigin: config.webhookSocketsPerOrigin,
    disableAfterMs: config.webhookDisableAfterMs,
    logRetentionMs: config.webhookLogRetentionMs,
    allowPrivateUrls: config.webhookAllowPrivateUrls,
    pollMs: config.dispatchPollMs,
    // One statement at a time: outcomes that finish meanwhile are written together by the next.
    recordConcurrency: 1,
    wakeOnLocalEmit: kind === 'pglite',
    takeAtEmit: true,
  };
}

export function retryDelayMs(attempt: number, opts: Pick<WebhookWorkerOptions, 'retryBaseMs' | 'retryMaxDelayMs'>): number {
  return Math.min(opts.retryBaseMs * 2 ** Math.min(attempt - 1, 40), opts.retryMaxDelayMs);
}

export class WebhookWorker implements TimedWork, DeliveryTaker {
  readonly id = `${hostname()}:${process.pid}:wh:${uuidv7().slice(-12)}`;
  private readonly signal = new Signal();
  private readonly sender: HttpSender;
  /** Outcomes waiting to be written, and the batches being written. */
  private readonly outcomes: AttemptOutcome[] = [];
  private recording = 0;
  private recordedWaiters: (() => void)[] = [];
  /** When a success was last written to each subscription's health (see writeOutcomes). */
  private readonly healthyAt = new Map<string, number>();
  private readonly inFlight = new Map<string, ClaimedDelivery>();
  private readonly perSubscription = new Map<string, number>();
  private readonly attempts = new Set<Promise<void>>();
  private readonly aborted: { workspaceId: string; subscriptionId: string; id: string }[] = [];
  readonly leaseMs: number;
  /** Slots booked by the outbox for deliveries being written (DeliveryTaker.reserve), not yet taken or given back. */
  private reserved = 0;
  private untake: (() => void) | undefined;
  private readonly perSubscriptionCap: number;
  private readonly saturated = new Set<string>();
  private readonly lowWater: number;
  private excludingFoundNothingAt = 0;
  /** The earliest retry this worker scheduled that is not yet due (clock ms): when a busy loop wakes for it. */
  private retryAt: number | null = null;
  /** New events were committed since the last claim that skipped saturated subscriptions. */
  private newWork = true;
  private stopped = true;
  private loopDone: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private lastPrune = 0;
  /**
   * Claims under way. A claimed delivery is not due in the table (its lease is its next attempt) and
   * not yet in flight here until the claim returns: in between, only this says it is being worked on.
   */
  private claiming = 0;
  private pruning = false;

  constructor(
    private readonly deps: WebhookWorkerDeps,
    private readonly opts: WebhookWorkerOptions,
  ) {
    this.sender = new HttpSender({ timeoutMs: opts.timeoutMs, maxSockets: opts.socketsPerOrigin, allowPrivateUrls: opts.allowPrivateUrls });
    this.leaseMs = Math.max(1000, 2 * opts.timeoutMs);
    this.perSubscriptionCap = Math.max(1, Math.floor(opts.concurrency / 2));
    this.lowWater = Math.floor(opts.concurrency / 2);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (this.opts.wakeOnLocalEmit) this.unsubscribe = this.deps.outbox.onWork(() => this.wake());
    if (this.opts.takeAtEmit) this.untake = this.deps.outbox.setTaker(this);
    this.loopDone = this.loop();
  }

  /** Work may be due (an event committed here or, via NOTIFY, elsewhere). */
  wake(): void {
    this.newWork = true;
    this.signal.notify();
  }

  /** Stops claiming, gives attempts in flight a moment to finish, puts back the rest, records everything. */
  async stop(graceMs = Math.min(this.opts.timeoutMs, 5000)): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    this.untake?.();
    this.signal.notify();
    await this.loopDone;
    if (this.attempts.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(this.attempts), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      this.sender.abortAll();
      await Promise.all(this.attempts);
    }
    await this.recorded();
    await releaseDeliveries(this.deps.db, this.id, this.aborted.splice(0)).catch((err) =>
      this.deps.log.warn({ err }, 'could not release webhook deliveries; they are retried when their lease ends'),
    );
    this.sender.close();
  }

  // What a virtual clock asks before it moves on (virtual-clock.ts).
  nextDueAt(now: Date): Promise<Date | null> {
    return nextDeliveryDueAt(this.deps.db, now);
  }

  async caughtUp(now: Date): Promise<boolean> {
    return this.claiming === 0 && this.reserved === 0 && this.inFlight.size === 0 && this.outcomes.length === 0 && this.recording === 0 && !(await hasDueDeliveries(this.deps.db, now));
  }

  get owner(): string {
    return this.id;
  }

  // The outbox's side (emit.ts DeliveryTaker): a booked slot counts as in flight for the room of
  // claims and for each subscription's share, from the booking until the delivery is taken or given back.
  reserve(subscriptionId: string): boolean {
    if (this.stopped || this.inFlight.size + this.reserved >= this.opts.concurrency) return false;
    const n = this.perSubscription.get(subscriptionId) ?? 0;
    if (n >= this.perSubscriptionCap) return false;
    this.reserved++;
    this.perSubscription.set(subscriptionId, n + 1);
    if (n + 1 >= this.perSubscriptionCap) this.saturated.add(subscriptionId);
    return true;
  }

  unreserve(subscriptionId: string): void {
    this.reserved--;
    this.leave(subscriptionId);
  }

  take(deliveries: ClaimedDelivery[]): void {
    const late: ClaimedDelivery[] = [];
    for (const d of deliveries) {
      this.reserved--;
      if (this.stopped) {
        late.push(d);
        this.leave(d.subscription_id);
      } else this.launch(d, true);
    }
    // Committed after stop() began: put them back for any worker at once rather than at the lease's end.
    if (late.length > 0) {
      releaseDeliveries(this.deps.db, this.id, late.map((d) => ({ workspaceId: d.workspace_id, subscriptionId: d.subscription_id, id: d.id }))).catch((err) =>
        this.deps.log.warn({ err }, 'could not release webhook deliveries; they are retried when their lease ends'),
      );
    }
  }

  /** Deliveries whose attempt is under way in this process. */
  get busy(): number {
    return this.inFlight.size;
  }

  private loop(): Promise<void> {
    return runWorkerLoop({
      signal: this.signal,
      pollMs: this.opts.pollMs,
      clock: this.deps.clock,
      isStopped: () => this.stopped,
      round: () => this.round(),
      onError: (err) => {
        if (isConnectionLost(err)) this.deps.log.warn({ err: (err as Error).message }, 'database unavailable; webhook worker backing off');
        else this.deps.log.error({ err }, 'webhook loop failed; backing off');
      },
    });
  }

  private async round(): Promise<RoundResult> {
    // Busy: wait until half the slots are free, then claim them in one go (one claim per slot
    // freed would cost a round trip per delivery).
    const now = this.deps.clock.now().getTime();
    if (this.retryAt !== null && this.retryAt <= now) this.retryAt = null;
    if (this.inFlight.size > this.lowWater) return this.retryAt === null ? null : new Date(this.retryAt);
    if ((await this.claim()) > 0) return 'again';
    if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) this.prune();
    // A busy worker (attempts in flight) sleeps until the retries it scheduled itself are due, or a
    // wake-up: an attempt finishing that frees half the slots or a saturated subscription, a
    // finished delivery with a successor waiting, new events. Only an idle one asks the table.
    if (this.inFlight.size > 0) return this.retryAt === null ? null : new Date(this.retryAt);
    return nextDeliveryDueAt(this.deps.db, this.deps.clock.now());
  }

  /** One claim: returns how many deliveries it started (0 when none were due or there is no room). */
  async claim(): Promise<number> {
    const room = Math.min(this.opts.concurrency - this.inFlight.size - this.reserved, this.opts.batchSize ?? 500);
    if (room <= 0) return 0;
    const now = this.deps.clock.now();
    const exclude = [...this.saturated];
    // A claim that skips saturated subscriptions scans past their backlog: after one found nothing,
    // the next waits for new events (a wake from NOTIFY or this process) and at least 250 ms.
    if (exclude.length > 0 && (!this.newWork || Date.now() - this.excludingFoundNothingAt < EXCLUDING_BACKOFF_MS)) return 0;
    this.newWork = false;
    this.claiming++;
    try {
      const claimed = await claimDeliveries(this.deps.db, this.id, now, room, new Date(now.getTime() + this.leaseMs), exclude);
      if (exclude.length > 0) this.excludingFoundNothingAt = claimed.length === 0 ? Date.now() : 0;
      for (const d of claimed) this.launch(d);
      return claimed.length;
    } finally {
      this.claiming--;
    }
  }

  // A subscription with perSubscriptionCap attempts in flight is skipped by claims until half of them
  // finished (hysteresis again: claims come in batches, not one per finished attempt).
  // (A delivery taken from the outbox had its share counted when its slot was booked.)
  private launch(d: ClaimedDelivery, booked = false): void {
    const key = `${d.workspace_id}|${d.id}`;
    this.inFlight.set(key, d);
    if (!booked) {
      const n = (this.perSubscription.get(d.subscription_id) ?? 0) + 1;
      this.perSubscription.set(d.subscription_id, n);
      if (n >= this.perSubscriptionCap) this.saturated.add(d.subscription_id);
    }
    const p: Promise<void> = this.attempt(d)
      .then((outcome) => {
        if (outcome) this.record(outcome);
      })
      .catch((err) => this.deps.log.error({ err, requestId: d.id }, 'webhook attempt failed unexpectedly'))
      .finally(() => {
        this.inFlight.delete(key);
        this.attempts.delete(p);
        this.leave(d.subscription_id, this.inFlight.size === this.lowWater);
      });
    this.attempts.add(p);
  }

  /** A slot of this subscription is free again (an attempt finished, a booking was given back). */
  private leave(subscriptionId: string, wake = false): void {
    const left = (this.perSubscription.get(subscriptionId) ?? 1) - 1;
    if (left <= 0) this.perSubscription.delete(subscriptionId);
    else this.perSubscription.set(subscriptionId, left);
    if (left <= this.perSubscriptionCap / 2 && this.saturated.delete(subscriptionId)) wake = true;
    if (wake) this.signal.notify();
  }

  private async attempt(d: ClaimedDelivery): Promise<AttemptOutcome | undefined> {
    const attemptNo = d.attempt_count + 1;
    const base = { workspaceId: d.workspace_id, id: d.id, subscriptionId: d.subscription_id };
    if (d.url === null) return { ...base, at: this.deps.clock.now(), status: 'failed', nextAttemptAt: null, attempt: null, drop: true };
    if (d.status !== 'active') {
      const now = this.deps.clock.now();
      return {
        ...base,
        at: now,
        status: 'failed',
        nextAttemptAt: null,
        attempt: { attempt: attemptNo, at: now.toISOString(), url: d.url, signature: null, httpStatusCode: null, responseBody: null, durationMs: 0, error: 'not sent: the subscription is inactive' },
      };
    }
    const startedAt = this.deps.clock.now();
    const r: AttemptResult = await this.sender.send({
      id: d.id,
      createdAt: d.created_at,
      body: d.body,
      url: d.url,
      signingKey: d.signing_key!,
      standardWebhooks: d.standard_webhooks === true,
    });
    if (r.aborted) {
      this.aborted.push({ workspaceId: d.workspace_id, subscriptionId: d.subscription_id, id: d.id });
      return undefined;
    }
    const ok = r.httpStatusCode !== null && r.httpStatusCode >= 200 && r.httpStatusCode < 300;
    const now = this.deps.clock.now();
    let status: AttemptOutcome['status'] = 'succeeded';
    let nextAttemptAt: Date | null = null;
    if (!ok) {
      const deadline = d.created_at.getTime() + this.opts.retryWindowMs;
      if (now.getTime() >= deadline) status = 'failed';
      else {
        status = 'pending';
        const delay = Math.max(retryDelayMs(attemptNo, this.opts), r.retryAfterMs ?? 0);
        nextAttemptAt = new Date(Math.min(now.getTime() + delay, deadline));
      }
    }
    return {
      ...base,
      at: now,
      ok,
      status,
      nextAttemptAt,
      attempt: {
        attempt: attemptNo,
        at: startedAt.toISOString(),
        url: r.url,
        signature: r.signatures?.bird ?? null,
        ...(r.signatures?.standard ? { standardSignature: r.signatures.standard } : {}),
        httpStatusCode: r.httpStatusCode,
        responseBody: r.responseBody,
        durationMs: r.durationMs,
        error: r.error,
      },
    };
  }

  // Outcomes are written in batches (group commit): whatever finished while the previous batch was
  // being written goes in the next one; a lone outcome is written at once. Deliveries first, then
  // subscription health, as separate statements, so no transaction holds locks on both tables.
  private record(outcome: AttemptOutcome): void {
    this.outcomes.push(outcome);
    this.pumpRecords();
  }

  private pumpRecords(): void {
    while (this.outcomes.length > 0 && this.recording < this.opts.recordConcurrency) {
      const batch = this.outcomes.splice(0, 1000);
      this.recording++;
      void this.writeOutcomes(batch).finally(() => {
        this.recording--;
        if (this.outcomes.length > 0) this.pumpRecords();
        else if (this.recording === 0) for (const w of this.recordedWaiters.splice(0)) w();
      });
    }
  }

  private async writeOutcomes(batch: AttemptOutcome[]): Promise<void> {
    let unblocks: boolean;
    try {
      // Unrecorded outcomes are sent again once their leases (2 x timeout, counted from the claim)
      // run out: through a lost connection, keep retrying for one timeout, which is still within them.
      unblocks = await retryWhileConnectionLost(() => recordOutcomes(this.deps.db, batch), {
        deadline: Date.now() + this.opts.timeoutMs,
        log: this.deps.log,
        what: 'recording webhook attempts',
      });
    } catch (err) {
      this.deps.log.error({ err, count: batch.length }, 'could not record webhook attempts; they are retried when their lease ends');
      return;
    }
    // A finished delivery whose chain has a next one waiting (an event emitted while it was in
    // flight): claim that at once. A retry scheduled: the loop must know when it is due.
    for (const o of batch) if (o.nextAttemptAt && (this.retryAt === null || o.nextAttemptAt.getTime() < this.retryAt)) this.retryAt = o.nextAttemptAt.getTime();
    if (unblocks || batch.some((o) => o.nextAttemptAt)) this.wake();
    // Subscription health: every failure is written (it may deactivate), a success at most every
    // HEALTHY_REFRESH_MS per subscription (it only clears failingSince, which stays null meanwhile
    // unless a failure, here or in another process, set it: then a success is written at once).
    const now = Date.now();
    const health = batch.filter((o) => {
      if (o.ok === undefined) return false;
      const key = `${o.workspaceId}|${o.subscriptionId}`;
      if (!o.ok) {
        this.healthyAt.delete(key);
        return true;
      }
      const at = this.healthyAt.get(key);
      if (at !== undefined && now - at < HEALTHY_REFRESH_MS) return false;
      this.healthyAt.set(key, now);
      return true;
    });
    if (this.healthyAt.size > 100_000) this.healthyAt.clear();
    if (health.length === 0) return;
    try {
      for (const s of await recordHealth(this.deps.db, health, { disableAfterMs: this.opts.disableAfterMs })) {
        this.deps.log.warn({ workspaceId: s.workspace_id, subscriptionId: s.id, url: s.url }, 'webhook subscription deactivated: its deliveries kept failing');
      }
    } catch (err) {
      this.deps.log.warn({ err }, 'could not update webhook subscription health');
    }
  }

  /** Resolves once every outcome so far is written. */
  private recorded(): Promise<void> {
    this.pumpRecords();
    if (this.outcomes.length === 0 && this.recording === 0) return Promise.resolve();
    return new Promise((resolve) => this.recordedWaiters.push(resolve));
  }

  private prune(): void {
    if (this.pruning) return;
    this.pruning = true;
    this.lastPrune = Date.now();
    pruneDeliveries(this.deps.db, new Date(Date.now() - this.opts.logRetentionMs))
      .then((n) => n > 0 && this.deps.log.info({ deleted: n }, 'pruned old webhook logs'))
      .catch((err) => this.deps.log.warn({ err }, 'pruning webhook logs failed'))
      .finally(() => (this.pruning = false));
  }
}
