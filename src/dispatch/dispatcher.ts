import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Channel } from '../channels/channels.ts';
import type { ChannelCache } from '../channels/channel-cache.ts';
import type { Connector, SendResult } from '../connectors/connector.ts';
import { isConnectionLost, retryWhileConnectionLost } from '../db/connection-loss.ts';
import type { Db } from '../db/database.ts';
import { uuidv7 } from '../ids.ts';
import { claimConnectorEvents, claimMessages, nextDueAt } from './claim.ts';
import { failures } from '../connectors/failures.ts';
import { prepare, type Prepared } from './prepare.ts';
import { applyProviderEvents } from './provider-events.ts';
import { recordParts, type PartRecord } from './receipts.ts';
import { insertReports, reportRow, type ReportRow } from '../connectors/reports.ts';
import { sendPerReceiver, submitsPerReceiver, type ReceiverOutcomes } from './receivers.ts';
import { SendRateLimiter } from './send-rate.ts';
import { Sessions, type SessionDeps } from './sessions.ts';
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
  allowPrivateUrls?: boolean;
  media?: SessionDeps['media'];
}

/** How often sessions are brought in line with their channels (opened for receiving, closed when gone). */
const SESSION_SWEEP_MS = 5_000;
/** How soon a receipt that overtook the recording of its send is tried again. */
const RECEIPT_RETRY_MS = 250;

export class Dispatcher {
  readonly id = `${hostname()}:${process.pid}:${uuidv7().slice(-12)}`;
  private stopped = true;
  private loops: Promise<void>[] = [];
  private readonly sendRate = new SendRateLimiter();
  private readonly sessions: Sessions;
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly opts: DispatcherOptions,
  ) {
    this.sessions = new Sessions({ db: deps.db, log: deps.log, signal: deps.signal, connectors: deps.connectors, allowPrivateUrls: deps.allowPrivateUrls ?? false, media: deps.media });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loops = Array.from({ length: this.opts.concurrency }, (_, i) => this.loop(i));
    const sweep = () =>
      this.sessions.sweep().catch((err) => this.deps.log.warn({ err: (err as Error).message }, 'connector session sweep failed'));
    void sweep();
    this.sweeper = setInterval(sweep, SESSION_SWEEP_MS);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.deps.signal.notify();
    await Promise.all(this.loops);
    this.loops = [];
    await this.sessions.closeAll();
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
        const later = await applyProviderEvents(trx, this.deps.outbox, this.deps.channels, events);
        const keep = new Set(later.map((e) => e.id));
        const done = events.filter((e) => !keep.has(e.id));
        await sql`delete from connector_events e using unnest(${done.map((e) => e.workspace_id)}::uuid[], ${done.map((e) => e.id)}::uuid[]) as t(w, i)
          where e.workspace_id = t.w and e.id = t.i`.execute(trx);
        // A receipt whose send is not recorded yet: try again soon (the send's commit is usually milliseconds away).
        if (later.length) {
          await sql`update connector_events e set due_at = ${new Date(Date.now() + RECEIPT_RETRY_MS)}, lease_owner = null, lease_expires_at = null
            from unnest(${later.map((e) => e.workspace_id)}::uuid[], ${later.map((e) => e.id)}::uuid[]) as t(w, i)
            where e.workspace_id = t.w and e.id = t.i`.execute(trx);
        }
      });
    }
    return claimed.length + events.length;
  }

  private async sendAll(sends: Prepared['sends'], claimedAt: Date): Promise<void> {
    const results = await Promise.all(
      sends.map(({ connector, message }) => {
        // Aborted well before the lease runs out, so the outcome is recorded while the message is still ours.
        const send = (m: typeof message) => this.sessions.send(connector, m, Math.max(1_000, this.opts.leaseMs / 2));
        return (submitsPerReceiver(message) ? sendPerReceiver(send, message) : send(message)).catch(
          (err: Error): SendResult => ({ ok: false, retryable: true, failure: failures.dependencyError(err.message, message.channel.platformId) }),
        );
      }),
    );
    const now = new Date();
    const transitions: Transition[] = [];
    const retries: Parameters<typeof reschedule>[1] = [];
    const followUps: ReportRow[] = [];
    const parts: PartRecord[] = [];
    sends.forEach(({ row, message, connector }, i) => {
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
          followUps.push({ ...reportRow(message.channel, f.event, new Date(now.getTime() + f.afterMs)), message_id: f.event.kind === 'status' ? f.event.messageId : row.id });
        }
        if (connector.receiptsByReference) {
          parts.push({ workspaceId: row.workspace_id, channelId: row.channel_id, messageId: row.id, references: r.parts.map((p) => p.platformReference), receivers: (r as { partReceivers?: number[] }).partReceivers });
        }
        return;
      }
      if (r.throttled) {
        // The provider asked to slow down: not a failed attempt, the message just waits its turn.
        retries.push({ workspaceId: row.workspace_id, messageId: row.id, nextAttemptAt: new Date(now.getTime() + (r.retryAfterMs ?? 1000)), attempts: message.attempt - 1, reason: r.reason ?? 'throttled' });
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
          await recordParts(trx, parts);
          await insertReports(trx, followUps);
        }),
      { deadline: claimedAt.getTime() + this.opts.leaseMs, log: this.deps.log, what: 'recording sends' },
    );
  }
}

/** What sendPerReceiver already knows about each receiver (nothing for a single-receiver send). */
function receiverOutcomesOf(r: SendResult & { outcomes?: ReceiverOutcomes }): { receiverOutcomes?: ReceiverOutcomes } {
  return r.ok && r.outcomes ? { receiverOutcomes: r.outcomes } : {};
}
