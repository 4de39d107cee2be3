import { sql } from 'kysely';
import { systemClock, type Clock } from '../clock.ts';
import { afterSettle } from '../db/after-commit.ts';
import type { Db } from '../db/database.ts';
import { WEBHOOK_CHANNEL } from '../db/notify-channels.ts';
import { uuidv7 } from '../ids.ts';
import type { ClaimedDelivery } from './deliveries.ts';
import type { EventCatalogue } from './events.ts';

// The outbox: emitting webhook events. Called inside the transaction that makes the change (a status
// written by messages/status-writer.ts, a message accepted or received, an interaction, a channel), it
// writes one delivery row per subscription the event goes to, so the event commits or rolls back with
// its cause. It knows no feature: the events it is handed, and the catalogue of events subscriptions
// may name (events.ts), come from the features through the composition root (context.ts).
//
// Which subscriptions an event goes to (same workspace, same event name, status active):
//   1. Filters: a subscription matches when every filter key it has matches (keys AND together); a key
//      given several times matches any of its values.
//   2. notification.url: an outgoing message sent with `notification.url` has its events (status
//      changes and interactions) routed to the subscriptions with exactly that URL, and to no other.
//      If no active subscription for the event has that URL (any more), rule 2 does not apply.
//   3. Precedence (Bird: an unfiltered subscription gets all events "except where you have other
//      webhooks with an explicit filter"): a subscription without filters receives an event only if
//      no subscription with filters, among those left by rule 2, matches it. Filtered subscriptions
//      receive every event they match.
// The matching runs in SQL, in the same transaction, so it sees exactly the subscriptions committed
// when the event happened. Bodies are built only for events that go somewhere.

export interface WebhookEvent {
  workspaceId: string;
  event: string;
  channelId: string | null;
  platformId: string | null;
  messageStatus?: string | null;
  interactionType?: string | null;
  /** Events with the same key reach a subscriber in the order they were emitted (a message id, a channel id). */
  orderKey: string | null;
  notificationUrl?: string | null;
  /** Built only when the event goes to at least one subscription. */
  payload: () => unknown;
}

/** A subscription an event goes to: the event's index, the subscription and what a sender needs of it. */
export interface Match {
  i: number;
  s: string;
  url: string;
  signing_key: string;
  standard_webhooks: boolean;
}

/** Which subscriptions each event goes to, in event order. */
export async function matchSubscriptions(trx: Db, events: Omit<WebhookEvent, 'payload'>[]): Promise<Match[]> {
  const input = events.map((e, i) => ({
    i,
    w: e.workspaceId,
    ev: e.event,
    ch: e.channelId,
    st: e.messageStatus ?? null,
    it: e.interactionType ?? null,
    pf: e.platformId,
    nu: e.notificationUrl ?? null,
  }));
  const r = await sql<Match>`
    with e as (
      select * from json_to_recordset(${JSON.stringify(input)}::json) as e(i int, w uuid, ev text, ch uuid, st text, it text, pf text, nu text)
    ),
    matching as (
      select e.i, s.id, s.url, s.signing_key, s.standard_webhooks, s.filter_signature <> '' as filtered
      from e join webhook_subscriptions s on s.workspace_id = e.w and s.event = e.ev and s.status = 'active'
      where (s.filter_channel_id is null or s.filter_channel_id = e.ch)
        and (s.filter_statuses is null or e.st = any (s.filter_statuses))
        and (s.filter_interaction_types is null or e.it = any (s.filter_interaction_types))
        and (s.filter_platform_ids is null or e.pf = any (s.filter_platform_ids))
    ),
    routed as (
      select m.* from matching m join e on e.i = m.i
      where e.nu is null or m.url = e.nu
        or not exists (
          select 1 from webhook_subscriptions r
          where r.workspace_id = e.w and r.event = e.ev and r.status = 'active' and r.url = e.nu)
    )
    select r.i, r.id as s, r.url, r.signing_key, r.standard_webhooks from routed r
    where r.filtered or not exists (select 1 from routed f where f.i = r.i and f.filtered)
    order by r.i, r.id`.execute(trx);
  return r.rows;
}

// Most transactions that emit events belong to workspaces without webhooks, and must not pay for the
// matching statement; nor must the status changes that no subscription asks for (a subscription to
// delivered SMS sees no `processing` or `sent`). Each process keeps, per workspace, the event names
// that have active subscriptions and the statuses they filter on, read at most once a second. The
// process that creates, changes or deletes a subscription forgets its workspace's entry at once;
// other processes see the change within SUBSCRIBED_TTL_MS. So a new subscription receives the events
// that happen from (at most) one second after it was created; once an event was written, it is never
// lost.
const SUBSCRIBED_TTL_MS = 1000;

/**
 * How long to hold back each event of a workspace before its first delivery attempt (the sandbox's
 * "slow webhooks" failure injection, given by the composition root): undefined when nothing is held.
 * Read inside the emitting transaction, so it must read through `trx`.
 */
export type HoldBack = (trx: Db, workspaceId: string) => Promise<((e: Omit<WebhookEvent, 'payload'>) => number) | undefined>;

/**
 * This process's webhook worker, as the outbox sees it. A delivery the worker has room for is written
 * already leased to it and handed over once its transaction commits: it goes out at once, without a
 * claim (a statement per batch, and an update of every row, fewer) and without the wake-up a claim
 * waits for. A crash before its outcome is recorded leaves it leased, and whoever claims it when the
 * lease ends sends it, as with a claimed one.
 */
export interface DeliveryTaker {
  /** Written as the rows' lease_owner. */
  readonly owner: string;
  readonly leaseMs: number;
  /** Books a slot for one delivery to this subscription; false when there is no room (or the worker is stopping). */
  reserve(subscriptionId: string): boolean;
  /** Gives back a slot whose delivery was not taken after all (its chain was busy; the transaction rolled back). */
  unreserve(subscriptionId: string): void;
  /** Committed deliveries leased to this worker, each with its slot booked: send them. Must not throw. */
  take(deliveries: ClaimedDelivery[]): void;
}

/** One per process (AppContext.outbox): the in-process wake-ups of webhook workers and the subscription cache. */
export class Outbox {
  private readonly wakers = new Set<() => void>();
  private taker: DeliveryTaker | undefined;
  /** Per workspace: each subscribed event name, and the statuses its subscriptions want (null: any). */
  private readonly subscribed = new Map<string, { events: Map<string, Set<string> | null>; until: number }>();
  /** Across workspaces: whether any subscription may want outgoing messages' events of a status (mayWantOutbound). */
  private readonly outboundStatuses = new Map<string, { wanted: boolean; until: number }>();

  /** `events`: what subscriptions may name (webhooks/events.ts); `clock`: what deliveries are stamped and scheduled by. */
  constructor(
    readonly events: EventCatalogue,
    private readonly holdBack?: HoldBack,
    readonly clock: Clock = systemClock,
  ) {}

  /** In-process wake-ups for webhook workers (other processes are woken by NOTIFY on commit). */
  onWork(wake: () => void): () => void {
    this.wakers.add(wake);
    return () => this.wakers.delete(wake);
  }

  wake(): void {
    for (const wake of this.wakers) wake();
  }

  /** The worker that takes deliveries as they are written (see DeliveryTaker); returns its removal. */
  setTaker(taker: DeliveryTaker): () => void {
    this.taker = taker;
    return () => {
      if (this.taker === taker) this.taker = undefined;
    };
  }

  /** Call after committing a change to a workspace's subscriptions. */
  forgetSubscriptions(workspaceId: string): void {
    this.subscribed.delete(workspaceId);
    this.outboundStatuses.clear();
  }

  /** Forgets every workspace's subscriptions (the store was reset or restored). */
  forgetAll(): void {
    this.subscribed.clear();
    this.outboundStatuses.clear();
  }

  private async subscribedEvents(trx: Db, workspaces: string[]): Promise<Map<string, Map<string, Set<string> | null>>> {
    const now = Date.now();
    const stale = workspaces.filter((w) => (this.subscribed.get(w)?.until ?? 0) <= now);
    if (stale.length > 0) {
      const r = await sql<{ workspace_id: string; event: string; statuses: string[] | null }>`
        select workspace_id, event, case when bool_or(filter_statuses is null) then null else array_agg(distinct s) end as statuses
        from webhook_subscriptions left join lateral unnest(filter_statuses) as s on true
        where workspace_id = any (${stale}::uuid[]) and status = 'active'
        group by workspace_id, event`.execute(trx);
      if (this.subscribed.size > 10_000) this.subscribed.clear();
      for (const w of stale) this.subscribed.set(w, { events: new Map(), until: now + SUBSCRIBED_TTL_MS });
      for (const row of r.rows) this.subscribed.get(row.workspace_id)!.events.set(row.event, row.statuses && new Set(row.statuses));
    }
    return new Map(workspaces.map((w) => [w, this.subscribed.get(w)!.events]));
  }

  /**
   * Whether any active subscription, in any workspace, may want outgoing messages' events of this
   * status (read at most once a second, forgotten at once on a change made here): lets a writer that
   * opens a transaction only to emit such events skip it while nobody subscribes to them.
   */
  async mayWantOutbound(db: Db, status: string): Promise<boolean> {
    const now = Date.now();
    const known = this.outboundStatuses.get(status);
    if (known && known.until > now) return known.wanted;
    const r = await sql<{ wanted: boolean }>`
      select exists (select 1 from webhook_subscriptions
        where status = 'active' and event like '%.outbound' and (filter_statuses is null or ${status} = any (filter_statuses))) as wanted`.execute(db);
    const wanted = r.rows[0]?.wanted === true;
    this.outboundStatuses.set(status, { wanted, until: now + SUBSCRIBED_TTL_MS });
    return wanted;
  }

  /**
   * Whether any of these events may go to a subscription, by the same per-workspace cache `emit` reads
   * first: a writer whose change needs a transaction only for its events (an accept is one statement
   * otherwise) asks this before it opens one. False means `emit` would write nothing.
   */
  async mayEmit(db: Db, all: Array<Omit<WebhookEvent, 'payload'>>): Promise<boolean> {
    if (all.length === 0) return false;
    const byWorkspace = await this.subscribedEvents(db, [...new Set(all.map((e) => e.workspaceId))]);
    return all.some((e) => wanted(byWorkspace.get(e.workspaceId)!, e.event, e.messageStatus));
  }

  /** Writes the deliveries of these events in the caller's transaction; returns how many. */
  async emit(trx: Db, all: WebhookEvent[]): Promise<number> {
    if (all.length === 0) return 0;
    const byWorkspace = await this.subscribedEvents(trx, [...new Set(all.map((e) => e.workspaceId))]);
    const events = all.filter((e) => wanted(byWorkspace.get(e.workspaceId)!, e.event, e.messageStatus));
    if (events.length === 0) return 0;
    const matches = await matchSubscriptions(trx, events);
    if (matches.length === 0) return 0;
    const now = this.clock.now();
    const held = new Map<string, ((e: Omit<WebhookEvent, 'payload'>) => number) | undefined>();
    if (this.holdBack) for (const w of new Set(events.map((e) => e.workspaceId))) held.set(w, await this.holdBack(trx, w));
    const bodies = new Map<number, string>();
    // Deliveries due now are offered to this process's worker. Only the first of a chain (one
    // message's events to one subscription) in this batch can be: the rest wait for it as usual.
    // The statement still checks that no earlier delivery of the chain is unfinished.
    const taker = this.taker;
    const chains = new Set<string>();
    const rows = matches.map((m, n) => {
      const e = events[m.i];
      let body = bodies.get(m.i);
      if (body === undefined) {
        body = JSON.stringify({ service: this.events.get(e.event)?.service ?? 'channels', event: e.event, payload: e.payload() });
        bodies.set(m.i, body);
      }
      const delay = held.get(e.workspaceId)?.(e) ?? 0;
      const chain = e.orderKey === null ? null : `${e.workspaceId}|${m.s}|${e.orderKey}`;
      const first = chain === null || !chains.has(chain);
      if (chain !== null) chains.add(chain);
      const c = taker !== undefined && delay <= 0 && first && taker.reserve(m.s);
      return { n, w: e.workspaceId, id: uuidv7(now.getTime()), s: m.s, ev: e.event, ok: e.orderKey, b: body, at: delay > 0 ? new Date(now.getTime() + delay) : now, c };
    });
    // Rows holding a booked slot, until they are handed over or given back.
    let holding = rows.filter((r) => r.c);
    const giveBack = (of: typeof rows) => of.forEach((r) => taker!.unreserve(r.s));
    if (holding.length > 0) {
      const registered = afterSettle(trx, (committed) => {
        const taken = holding;
        holding = [];
        if (!committed) return giveBack(taken);
        taker!.take(
          taken.map((r) => {
            const m = matches[r.n];
            return { workspace_id: r.w, id: r.id, subscription_id: r.s, event: r.ev, body: r.b, created_at: now, attempt_count: 0, url: m.url, signing_key: m.signing_key, standard_webhooks: m.standard_webhooks, status: 'active' };
          }),
        );
      });
      // A transaction nobody will report the commit of: leave every row to a claim.
      if (!registered) {
        giveBack(holding);
        for (const r of holding) r.c = false;
        holding = [];
      }
    }
    const leaseUntil = new Date(now.getTime() + (taker?.leaseMs ?? 0));
    // Inserted in emission order, so `seq` orders the events of one key. NOTIFY wakes other processes'
    // workers on commit, when some row is left for them to claim.
    let taken: Set<string>;
    try {
      const r = await sql<{ taken: string[] }>`
        with ins as (
          insert into webhook_deliveries (workspace_id, id, subscription_id, event, order_key, body, created_at, next_attempt_at, lease_owner, updated_at)
          select m.w, m.id, m.s, m.ev, m.ok, m.b, ${now}, case when m.taken then ${leaseUntil} else m.at end, case when m.taken then ${taker?.owner ?? null}::text end, ${now}
          from (
            select m.*, m.c and (m.ok is null or not exists (
              select 1 from webhook_deliveries p
              where p.workspace_id = m.w and p.subscription_id = m.s and p.order_key = m.ok and p.next_attempt_at is not null)) as taken
            from json_to_recordset(${JSON.stringify(rows)}::json) as m(n int, w uuid, id uuid, s uuid, ev text, ok uuid, b text, at timestamptz, c boolean)
          ) m
          order by m.n
          returning id, lease_owner is not null as taken
        )
        select coalesce((select array_agg(id::text) from ins where taken), '{}') as taken,
          case when exists (select 1 from ins where not taken) then pg_notify(${WEBHOOK_CHANNEL}, '') end as notified`.execute(trx);
      taken = new Set(r.rows[0]!.taken);
    } catch (err) {
      // The transaction is lost: nothing is handed over, whatever the caller does next.
      giveBack(holding);
      holding = [];
      throw err;
    }
    const busyChain = holding.filter((r) => !taken.has(r.id));
    if (busyChain.length > 0) {
      giveBack(busyChain);
      holding = holding.filter((r) => taken.has(r.id));
    }
    if (taken.size < rows.length) this.wake();
    return rows.length;
  }
}

function wanted(events: Map<string, Set<string> | null>, event: string, messageStatus?: string | null): boolean {
  if (!events.has(event)) return false;
  const statuses = events.get(event);
  return statuses == null || messageStatus == null || statuses.has(messageStatus);
}
