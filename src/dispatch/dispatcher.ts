import { transaction } from '../db/after-commit.ts';
import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Channel } from '../channels/channels.ts';
import type { ChannelCache } from '../channels/channel-cache.ts';
import type { Clock } from '../clock.ts';
import type { Connector, SendResult } from '../connectors/connector.ts';
import { failures } from '../connectors/failures.ts';
import { isConnectionLost, retryWhileConnectionLost } from '../db/connection-loss.ts';
import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';
import type { GroupCommit } from '../db/group-commit.ts';
import type { Signal } from '../db/signal.ts';
import { runWorkerLoop, type RoundResult } from '../db/worker-loop.ts';
import type { TimedWork } from '../virtual-clock.ts';
import { uuidv7 } from '../ids.ts';
import { applyTransitions, reschedule } from '../messages/status-writer.ts';
import type { Outbox } from '../webhooks/emit.ts';
import { emitMessageEvents } from '../messages/message-events.ts';
import { ChannelShares } from './channel-shares.ts';
import { claimConnectorEvents, claimMessages, claimMessagesAndNextDue, hasDueWork, nextDueAt, nextEventDueAt, nextMessageDueAt, type ClaimedMessage, type ClaimRoom } from './claim.ts';
import { outcomeWriter, type Outcome } from './outcomes.ts';
import { prepare, type Prepared } from './prepare.ts';
import { applyProviderEvents } from './provider-events.ts';
import { sendPerReceiver, submitsPerReceiver } from './receivers.ts';
import { SendRateLimiter } from './send-rate.ts';
import { Sessions, type SessionDeps } from './sessions.ts';

// The worker: claim due messages, decide, hand them to their channels' sessions; then apply due
// provider events (receipts, replies). Sends are pipelined: the claim loop does not wait for them.
// Each send waits for a slot in its own channel's session window, runs, and its outcome is
// group-committed (outcomes.ts) as soon as it is known, so a slow provider holds only its own
// channel's messages. What is claimed but not yet recorded is bounded twice: in all (maxInFlight,
// the memory bound whatever the backlog) and per channel (a few windows' worth), so one slow
// channel cannot take the whole budget: the claim skips channels that already hold their share
// (channel-shares.ts).
// The loop sleeps only when there is nothing due, until the next scheduled moment or a wake-up (a
// new message in this process, NOTIFY from another, a channel with room again): db/worker-loop.ts.

export interface DispatcherOptions {
  batchSize: number;
  leaseMs: number;
  retryBaseMs: number;
  maxAttempts: number;
  pollMs: number;
  concurrency: number;
  /** Messages claimed and not yet recorded, in all: bounds memory whatever the backlog. */
  maxInFlight: number;
}

export interface DispatcherDeps {
  db: Db;
  /** Where claims of messages outside a transaction run (database.ts `claims`: generic plans); `db` if not given. */
  claims?: Db;
  log: Logger;
  /** Due times, leases and stamps; real durations (send timeouts, a claim's deadline) stay on the system's time. */
  clock: Clock;
  channels: ChannelCache;
  connectors: Map<string, Connector>;
  /** Wakes the claim loops: messages committed or rescheduled. */
  signal: Signal;
  /**
   * Wakes the provider-events loop: receipts and replies written for later (connector_events). Apart
   * from `signal`, so that every message committed does not also cost an empty claim of events and
   * its next-due query (bench smpp-drain: a third of the statements that loop ran found nothing).
   */
  eventsSignal: Signal;
  outbox: Outbox;
  allowPrivateUrls?: boolean;
  media?: SessionDeps['media'];
}

/** How often sessions are brought in line with their channels (opened for receiving, closed when gone). */
const SESSION_SWEEP_MS = 5_000;
/** The longest a claim loop sleeps without asking what is due next, while a hungry channel's sends will wake it. */
const HUNGRY_SLEEP_MS = 250;

export class Dispatcher implements TimedWork {
  readonly id = `${hostname()}:${process.pid}:${uuidv7().slice(-12)}`;
  private stopped = true;
  private loops: Promise<void>[] = [];
  private readonly sendRate = new SendRateLimiter();
  private readonly sessions: Sessions;
  private readonly shares: ChannelShares;
  private readonly outcomes: GroupCommit<Outcome, boolean>;
  private sweeper?: NodeJS.Timeout;
  private claimTail: Promise<void> = Promise.resolve();
  /** Claims queued behind the one under way, not yet begun; whether one is under way (oneClaimAtATime). */
  private claimsQueued = 0;
  private claimRunning = false;
  /** The work signal's generation when the last claim's statement was sent: its snapshot saw every commit woken before. */
  private claimedThrough = -1;
  private readonly settled = new Set<Promise<void>>();
  /** Claims under way, and begun in all (caughtUp: a claim's started messages are not due, nor yet in flight). */
  private claiming = 0;
  private claimsBegun = 0;
  private roomWaiters: Array<() => void> = [];

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly opts: DispatcherOptions,
  ) {
    this.sessions = new Sessions({ db: deps.db, owner: this.id, log: deps.log, clock: deps.clock, signal: deps.eventsSignal, connectors: deps.connectors, allowPrivateUrls: deps.allowPrivateUrls ?? false, media: deps.media, outbox: deps.outbox });
    this.shares = new ChannelShares(this.sessions, opts.maxInFlight);
    this.outcomes = outcomeWriter(deps.db, deps.outbox, opts, Math.max(1, opts.concurrency), () => deps.clock.now(), () => deps.eventsSignal.notify());
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    // Claim loops, and one loop of its own for provider events: a burst of receipts must not hold up
    // the claims that keep the sessions' windows full (and new messages' latency), nor the reverse.
    this.loops = [
      ...Array.from({ length: this.opts.concurrency }, (_, i) => this.loop(i, this.deps.signal, () => this.round())),
      this.loop(this.opts.concurrency, this.deps.eventsSignal, () => this.eventsRound()),
    ];
    const sweep = () =>
      this.sessions.sweep().catch((err) => this.deps.log.warn({ err: (err as Error).message }, 'connector session sweep failed'));
    void sweep();
    this.sweeper = setInterval(sweep, SESSION_SWEEP_MS);
    this.sweeper.unref();
  }

  /** Stops claiming, lets the sends under way finish and be recorded, then closes the sessions. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.wake();
    this.wakeRoomWaiters();
    await Promise.all(this.loops);
    this.loops = [];
    // Sends waiting for a slot are handed back unsent; those under way finish and are recorded before
    // their sessions close (an SMPP unbind mid-submit would make their outcome unknown).
    this.sessions.stopSending();
    await Promise.all([...this.settled]);
    await this.outcomes.drain();
    await this.sessions.closeAll();
  }

  // What a virtual clock asks before it moves on (virtual-clock.ts).
  nextDueAt(now: Date): Promise<Date | null> {
    return nextDueAt(this.deps.db, now);
  }

  async caughtUp(now: Date): Promise<boolean> {
    // A claim under way may have started messages (no longer due, not yet counted in flight): not
    // caught up while one runs, nor if one began while hasDueWork was reading.
    const begun = this.claimsBegun;
    if (this.shares.inFlight > 0 || this.claiming > 0) return false;
    if (await hasDueWork(this.deps.db, now)) return false;
    return this.claimsBegun === begun && this.claiming === 0 && this.shares.inFlight === 0;
  }

  wake(): void {
    this.deps.signal.notify();
    this.deps.eventsSignal.notify();
  }

  /** Messages claimed by this process and not yet recorded (for tools and tests of the bound). */
  get pending(): number {
    return this.shares.inFlight;
  }

  private loop(index: number, signal: Signal, round: () => Promise<RoundResult>): Promise<void> {
    return runWorkerLoop({
      signal,
      pollMs: this.opts.pollMs,
      clock: this.deps.clock,
      isStopped: () => this.stopped,
      round,
      onError: (err) => {
        // A database outage is logged without a stack trace: it is expected, and loud enough at warn.
        if (isConnectionLost(err)) this.deps.log.warn({ err: (err as Error).message, loop: index }, 'database unavailable; dispatch backing off');
        else this.deps.log.error({ err, loop: index }, 'dispatch loop failed; backing off');
      },
    });
  }

  /** One round: claim and hand over what there is room for, apply due provider events. */
  private async round(): Promise<RoundResult> {
    if (this.shares.free <= 0) {
      // Full: wait for room (a send recorded) rather than poll; `again` then claims at once.
      await new Promise<void>((r) => {
        this.roomWaiters.push(r);
        setTimeout(r, this.opts.pollMs).unref();
      });
      return 'again';
    }
    const { claimed, nextDueAt } = await this.claimAndSend();
    // A full batch means more may be due at once; otherwise sleep until the next due message, a
    // wake-up, or room in a channel that has filled its share (`hungry`). Claiming again after any
    // non-empty claim was tried: at 500 messages/s it kept the worker spinning on claims of one or
    // two and doubled the accept -> sent p50.
    if (claimed >= this.opts.batchSize) return 'again';
    // A hungry channel with sends in flight here will wake the next claim itself (release), and that
    // claim takes whatever else has come due meanwhile: no need to ask when the next thing is due
    // (one statement per claim, as many as the claims: bench smpp-drain). The short sleep bounds how
    // late a message scheduled on another channel can be when those sends are slow.
    if (this.shares.hungryInFlight()) return new Date(this.deps.clock.now().getTime() + HUNGRY_SLEEP_MS);
    return nextDueAt !== undefined ? nextDueAt : nextMessageDueAt(this.deps.db, this.deps.clock.now());
  }

  private async eventsRound(): Promise<RoundResult> {
    if ((await this.applyDueEvents()) >= this.opts.batchSize) return 'again';
    return nextEventDueAt(this.deps.db, this.deps.clock.now());
  }

  /** Claims and hands over; `nextDueAt` when the claim also asked what is due next (see round). */
  private async claimAndSend(): Promise<{ claimed: number; nextDueAt?: Date | null }> {
    const { db } = this.deps;
    if (this.shares.free <= 0) return { claimed: 0 };
    // Every wake-up so far is seen by a claim under way or one about to begin: another would find
    // nothing, so this loop sleeps instead; the claim's own loop goes on as the claim says (see claimCovers).
    if (this.claimCovers()) return { claimed: 0, nextDueAt: null };
    // The messages a claim starts have their `processing` webhooks written with it; while no
    // subscription anywhere asks for `processing`, the claim runs alone, without a transaction.
    this.claimsBegun++;
    this.claiming++;
    let all: ClaimedMessage[];
    let shares: ReturnType<ChannelShares['take']>;
    let nextDueAt: Date | null | undefined;
    let now: Date;
    let leaseEnd: number;
    try {
      ({ all, shares, nextDueAt, now, leaseEnd } = await this.oneClaimAtATime(async () => {
        const alone = !(await this.deps.outbox.mayWantOutbound(db, 'processing'));
        // Taken when the claim begins, not when it was queued: a message committed while it waited is
        // due by then, and the room left is what the claims before it left.
        const now = this.deps.clock.now();
        // The claim's end in real time: a provider does not wait for a virtual clock.
        const leaseEnd = Date.now() + this.opts.leaseMs;
        const limit = Math.min(this.opts.batchSize, this.shares.free);
        if (limit <= 0) return { all: [], shares: { claimed: [], over: [] }, nextDueAt: undefined, now, leaseEnd };
        const start = { connectorTypes: [...this.deps.connectors.keys()], until: new Date(now.getTime() + this.opts.leaseMs) };
        // A loop that will sleep after this claim (see round) asks it what is due next as well; one
        // with a hungry channel in flight will not ask.
        const withNextDue = !this.shares.hungryInFlight();
        const claim = (d: Db, rooms: ClaimRoom): Promise<{ rows: ClaimedMessage[]; nextDueAt?: Date | null }> =>
          withNextDue
            ? claimMessagesAndNextDue(d, this.id, now, limit, this.opts.leaseMs, rooms, start)
            : claimMessages(d, this.id, now, limit, this.opts.leaseMs, rooms, start).then((rows) => ({ rows }));
        const rooms = this.shares.claimRoom();
        this.claimedThrough = this.deps.signal.generation;
        const { rows, nextDueAt } = alone
          ? await claim(this.deps.claims ?? db, rooms)
          : await transaction(db, async (trx) => {
              const claimed = await claim(trx, rooms);
              await emitMessageEvents(trx, this.deps.outbox, claimed.rows.filter((r) => r.started && r.claimed_status !== 'processing'));
              return claimed;
            });
        this.shares.noteAppetite(rooms, rows);
        return { all: rows, shares: this.shares.take(rows), nextDueAt, now, leaseEnd };
      }));
    } finally {
      this.claiming--;
    }
    if (all.length === 0) return { claimed: 0, nextDueAt };
    const { claimed, over } = shares;
    const sending = new Set<string>();
    try {
      // A claim can still take more of a channel than its share when the share shrank after its room
      // was booked (the session reopened with a smaller window): the excess goes back at once, due as
      // it was; the next claims pass the channel by until it has room.
      // (A row the claim started is due again now, as the retry it has become.)
      if (over.length) await reschedule(db, over.map((r) => ({ workspaceId: r.workspace_id, messageId: r.id, nextAttemptAt: r.started ? now : r.next_attempt_at })));
      if (claimed.length === 0) return { claimed: all.length, nextDueAt };
      const prepared = await prepare(db, claimed, {
        channels: this.deps.channels,
        connectors: this.deps.connectors,
        now,
        inFlightMs: this.opts.leaseMs,
        takeSendSlot: (channel: Channel) => this.sendRate.take(channel, now.getTime()),
      });
      // Most claims start every message they take, and leave nothing to write here: no transaction then
      // (its BEGIN and COMMIT were two round trips on every message's way to its provider).
      const applied =
        prepared.transitions.length === 0 && prepared.reschedules.length === 0
          ? []
          : await transaction(db, async (trx) => {
              const rows = await applyTransitions(trx, this.deps.outbox, prepared.transitions);
              await reschedule(trx, prepared.reschedules);
              return rows;
            });
      // Send what is now ours to send: moved to processing by the claim or here, or already processing (a retry).
      const processing = new Set(applied.filter((r) => r.status === 'processing').map((r) => r.id));
      for (const s of prepared.sends) {
        if (s.row.status !== 'processing' && !processing.has(s.row.id)) continue;
        sending.add(s.row.id);
        this.startSend(s, leaseEnd);
      }
      return { claimed: all.length, nextDueAt };
    } finally {
      // Claimed rows that are not being sent (scheduled, failed, cancelled, or an error on the way:
      // those come back when their claim ends) give their place back.
      for (const r of claimed) if (!sending.has(r.id)) this.release(r);
    }
  }

  /**
   * Claims in this process run one at a time, each from the room the last one left: claimRoom reads
   * what the last one took (ChannelShares.take). Two at once (two dispatch loops) each saw the same room, together took
   * more than a channel's share, and the excess went straight back: every row of it written twice for
   * nothing (bench smpp-drain: 269 of 2,728 claims). The loops still overlap in everything else.
   */
  private oneClaimAtATime<T>(claim: () => Promise<T>): Promise<T> {
    this.claimsQueued++;
    const begin = () => {
      this.claimsQueued--;
      this.claimRunning = true;
      return claim().finally(() => {
        this.claimRunning = false;
      });
    };
    const run = this.claimTail.then(begin, begin);
    this.claimTail = run.then(() => undefined, () => undefined);
    return run;
  }

  /**
   * Whether a claim now would be covered by one under way or queued. Every committed message wakes every
   * claim loop; without this, with two loops each wake-up cost two claims, the second empty and
   * queued behind the first (bench send-latency: a claim's wait for the one before it was its p50, 11
   * of the 25 ms from claim to sent). A queued claim begins later, so it sees all one could see now;
   * one under way sees all that was committed before its statement was sent, and any wake-up since
   * then (a newer generation) asks for a claim of its own.
   */
  private claimCovers(): boolean {
    return this.claimsQueued > 0 || (this.claimRunning && this.claimedThrough === this.deps.signal.generation);
  }

  /** Runs one send in the background; its place (reserved by ChannelShares.take) is given back once recorded. */
  private startSend(s: Prepared['sends'][number], leaseEnd: number): void {
    const p = this.sendAndRecord(s, leaseEnd).finally(() => {
      this.settled.delete(p);
      this.release(s.row);
    });
    this.settled.add(p);
  }

  /** Gives a claimed row's place back; a hungry channel with room again wakes a claim. */
  private release(row: MessageRow): void {
    if (this.shares.release(row)) this.deps.signal.notify();
    this.wakeRoomWaiters();
  }

  private wakeRoomWaiters(): void {
    for (const w of this.roomWaiters.splice(0)) w();
  }

  private async sendAndRecord({ row, connector, message }: Prepared['sends'][number], leaseEnd: number): Promise<void> {
    // Aborted well before the claim runs out, so the outcome is recorded while the message is still ours.
    const timeoutMs = Math.max(1_000, this.opts.leaseMs / 2);
    const send = (m: typeof message) => this.sessions.send(connector, m, { timeoutMs, notAfter: leaseEnd - timeoutMs });
    const result = await (submitsPerReceiver(message) ? sendPerReceiver(send, message) : send(message)).catch(
      (err: Error): SendResult => ({ ok: false, retryable: true, failure: failures.dependencyError(err.message, message.channel.platformId) }),
    );
    if (result.ok && this.deps.log.isLevelEnabled('debug')) this.deps.log.debug({ messageId: row.id, attempt: message.attempt }, 'sent to provider');
    // What the provider answered exists only here until this commits: if the database connection is
    // lost, retry for as long as the message is held (its claim), rather than let it become due again
    // and be sent a second time.
    const outcome: Outcome = { row, message, connector, result, at: this.deps.clock.now() };
    // The first write carries the receipts that rode with it (session-reports.ts); should the write
    // fail for a reason other than the connection, they may be why: the send is recorded alone, and
    // they go to connector_events (their ride rejects).
    let withRiders: Promise<unknown> | undefined;
    const write = () => {
      const attempt = this.outcomes.submit(outcome);
      withRiders ??= attempt;
      return attempt.catch((err: unknown) => {
        if (!outcome.riders?.length || isConnectionLost(err)) throw err;
        outcome.riders = [];
        return this.outcomes.submit(outcome);
      });
    };
    try {
      const recorded = retryWhileConnectionLost(write, {
        deadline: leaseEnd,
        log: this.deps.log,
        what: 'recording sends',
      });
      if (result.ok) {
        const references = result.parts.flatMap((p) => (p.platformReference ? [p.platformReference] : []));
        this.sessions.recording(message.channel, references, recorded, (batch) => {
          // (Not before the first write is queued: a receipt taken here and also applied on its own would be applied twice.)
          if (outcome.ridersClosed || !withRiders) return null;
          (outcome.riders ??= []).push(batch);
          return withRiders;
        });
      }
      await recorded;
    } catch (err) {
      // Not recorded: the message comes back when its claim ends and is sent again (at least once).
      this.deps.log.error({ err, messageId: row.id }, 'could not record a send; it will be retried when its claim ends');
    }
  }

  private async applyDueEvents(): Promise<number> {
    const { db } = this.deps;
    const now = this.deps.clock.now();
    const events = await claimConnectorEvents(db, this.id, now, this.opts.batchSize, this.opts.leaseMs);
    if (events.length === 0) return 0;
    const channels = new Map<string, Channel>();
    for (const e of events) {
      const key = `${e.workspace_id}:${e.channel_id}`;
      if ((e.payload as { kind: string }).kind !== 'inbound' || channels.has(key)) continue;
      const channel = await this.deps.channels.get(e.workspace_id, e.channel_id);
      if (channel) channels.set(key, channel);
    }
    await transaction(db, async (trx) => {
      const later = await applyProviderEvents(trx, this.deps.outbox, channels, events, now);
      const keep = new Set(later.map((l) => l.event.id));
      const done = events.filter((e) => !keep.has(e.id));
      await sql`delete from connector_events e using unnest(${done.map((e) => e.workspace_id)}::uuid[], ${done.map((e) => e.id)}::uuid[]) as t(w, i)
        where e.workspace_id = t.w and e.id = t.i`.execute(trx);
      if (later.length) {
        await sql`update connector_events e set due_at = t.d, lease_owner = null, lease_expires_at = null
          from unnest(${later.map((l) => l.event.workspace_id)}::uuid[], ${later.map((l) => l.event.id)}::uuid[], ${later.map((l) => l.dueAt.toISOString())}::timestamptz[]) as t(w, i, d)
          where e.workspace_id = t.w and e.id = t.i`.execute(trx);
      }
    });
    return events.length;
  }
}
