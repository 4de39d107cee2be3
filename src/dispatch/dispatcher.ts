import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Channel } from '../channels/channels.ts';
import type { ChannelCache } from '../channels/channel-cache.ts';
import type { Connector, ProviderEvent, SendResult } from '../connectors/connector.ts';
import { isConnectionLost, retryWhileConnectionLost } from '../db/connection-loss.ts';
import type { Db } from '../db/database.ts';
import { uuidv7 } from '../ids.ts';
import { claimConnectorEvents, claimMessages, nextDueAt } from './claim.ts';
import { failures } from '../connectors/failures.ts';
import { prepare, type Prepared } from './prepare.ts';
import { applyProviderEvents } from './provider-events.ts';
import { sendPerReceiver, submitsPerReceiver, type ReceiverOutcomes } from './receivers.ts';
import { SendRateLimiter } from './send-rate.ts';
import type { Signal } from '../db/signal.ts';
import { runWorkerLoop } from '../db/worker-loop.ts';
import { applyTransitions, reschedule, type Transition } from '../messages/status-writer.ts';
import type { Outbox } from '../webhooks/emit.ts';

// The worker: claim due messages, decide, send, record; then apply due provider events (receipts,
// replies). It sleeps only when there is nothing due, until the next scheduled moment or a wake-up (a
// new message in this process, or NOTIFY from another), whichever is first (db/worker-loop.ts).

export interface DispatcherOptions {
  batchSize: number;
  leaseMs: number;
  retryBaseMs: number;
  maxAttempts: number;
  pollMs: number;
  concurrency: number;
}

export interface DispatcherDeps {
  db: Db;
  log: Logger;
  channels: ChannelCache;
  connectors: Map<string, Connector>;
  signal: Signal;
  outbox: Outbox;
}

export class Dispatcher {
  readonly id = `${hostname()}:${process.pid}:${uuidv7().slice(-12)}`;
  private stopped = true;
  private loops: Promise<void>[] = [];
  private readonly sendRate = new SendRateLimiter();

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly opts: DispatcherOptions,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loops = Array.from({ length: this.opts.concurrency }, (_, i) => this.loop(i));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.signal.notify();
    await Promise.all(this.loops);
    this.loops = [];
  }

  private loop(index: number): Promise<void> {
    return runWorkerLoop({
      signal: this.deps.signal,
      pollMs: this.opts.pollMs,
      isStopped: () => this.stopped,
      // A full batch means more may be due at once; otherwise sleep until the next due message or event.
      round: async () => ((await this.tick()) >= this.opts.batchSize ? 'again' : nextDueAt(this.deps.db, new Date())),
      onError: (err) => {
        // A database outage is logged without a stack trace: it is expected, and loud enough at warn.
        if (isConnectionLost(err)) this.deps.log.warn({ err: (err as Error).message, loop: index }, 'database unavailable; dispatch backing off');
        else this.deps.log.error({ err, loop: index }, 'dispatch loop failed; backing off');
      },
    });
  }

  /** One round of work: returns how many messages and events it handled. Exposed for tests and tools. */
  async tick(): Promise<number> {
    const { db } = this.deps;
    const now = new Date();
    const claimed = await claimMessages(db, this.id, now, this.opts.batchSize, this.opts.leaseMs);
    if (claimed.length > 0) {
      const prepared = await prepare(db, claimed, {
        channels: this.deps.channels,
        connectors: this.deps.connectors,
        now,
        inFlightMs: this.opts.leaseMs,
        takeSendSlot: (channel: Channel) => this.sendRate.take(channel, now.getTime()),
      });
      const applied = await db.transaction().execute(async (trx) => {
        const rows = await applyTransitions(trx, this.deps.outbox, prepared.transitions);
        await reschedule(trx, prepared.reschedules);
        return rows;
      });
      // Send what is now ours to send: moved to processing here, or already processing (a retry).
      const processing = new Set(applied.filter((r) => r.status === 'processing').map((r) => r.id));
      const sends = prepared.sends.filter((s) => s.row.status === 'processing' || processing.has(s.row.id));
      if (sends.length > 0) await this.sendAll(sends, now);
    }
    const events = await claimConnectorEvents(db, this.id, new Date(), this.opts.batchSize, this.opts.leaseMs);
    if (events.length > 0) {
      await db.transaction().execute(async (trx) => {
        await applyProviderEvents(trx, this.deps.outbox, this.deps.channels, events);
        await sql`delete from connector_events e using unnest(${events.map((e) => e.workspace_id)}::uuid[], ${events.map((e) => e.id)}::uuid[]) as t(w, i)
          where e.workspace_id = t.w and e.id = t.i`.execute(trx);
      });
    }
    return claimed.length + events.length;
  }

  private async sendAll(sends: Prepared['sends'], claimedAt: Date): Promise<void> {
    const results = await Promise.all(
      sends.map(({ connector, message }) =>
        (submitsPerReceiver(message) ? sendPerReceiver(connector, message) : connector.send(message)).catch(
          (err: Error): SendResult => ({ ok: false, retryable: true, failure: failures.dependencyError(err.message, message.channel.platformId) }),
        ),
      ),
    );
    const now = new Date();
    const transitions: Transition[] = [];
    const retries: Parameters<typeof reschedule>[1] = [];
    const followUps: { workspace_id: string; id: string; channel_id: string; message_id: string | null; kind: string; payload: string; due_at: Date }[] = [];
    sends.forEach(({ row, message }, i) => {
      const r = results[i];
      const base = { workspaceId: row.workspace_id, messageId: row.id, at: now, from: ['processing'] };
      if (r.ok) {
        transitions.push({
          ...base,
          status: 'sent',
          parts: r.parts,
          platformReference: r.parts[0]?.platformReference,
          chargeableUnits: r.chargeableUnits,
          ...receiverOutcomesOf(r),
          attempts: message.attempt,
          nextAttemptAt: null,
        });
        for (const f of r.followUps ?? []) {
          followUps.push({
            workspace_id: row.workspace_id,
            id: uuidv7(),
            channel_id: row.channel_id,
            message_id: f.event.kind === 'status' ? f.event.messageId : row.id,
            kind: f.event.kind,
            payload: JSON.stringify(f.event satisfies ProviderEvent),
            due_at: new Date(now.getTime() + f.afterMs),
          });
        }
        return;
      }
      if (r.retryable && message.attempt < this.opts.maxAttempts) {
        const backoff = Math.min(this.opts.retryBaseMs * 2 ** (message.attempt - 1), 10 * 60_000);
        retries.push({
          workspaceId: row.workspace_id,
          messageId: row.id,
          nextAttemptAt: new Date(now.getTime() + Math.max(backoff, r.retryAfterMs ?? 0)),
          attempts: message.attempt,
          reason: r.reason ?? r.failure.description,
        });
        return;
      }
      transitions.push({
        ...base,
        status: 'sending_failed',
        failure: r.failure,
        reason: r.reason ?? r.failure.description,
        details: r.details,
        attempts: message.attempt,
        nextAttemptAt: null,
      });
    });
    if (this.deps.log.isLevelEnabled('debug')) {
      sends.forEach(({ row, message }, i) => results[i].ok && this.deps.log.debug({ messageId: row.id, attempt: message.attempt }, 'sent to provider'));
    }
    // What the providers answered exists only here until this commits: if the database connection
    // is lost, retry for as long as the messages are held (their in-flight window), rather than let
    // them become due again and be sent a second time.
    await retryWhileConnectionLost(
      () =>
        this.deps.db.transaction().execute(async (trx) => {
          await applyTransitions(trx, this.deps.outbox, transitions);
          await reschedule(trx, retries);
          if (followUps.length) await trx.insertInto('connector_events').values(followUps).execute();
        }),
      { deadline: claimedAt.getTime() + this.opts.leaseMs, log: this.deps.log, what: 'recording sends' },
    );
  }
}

/** What sendPerReceiver already knows about each receiver (nothing for a single-receiver send). */
function receiverOutcomesOf(r: SendResult & { outcomes?: ReceiverOutcomes }): { receiverOutcomes?: ReceiverOutcomes } {
  return r.ok && r.outcomes ? { receiverOutcomes: r.outcomes } : {};
}
