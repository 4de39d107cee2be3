import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { toChannel, type Channel } from '../channels/channels.ts';
import type { Connector, ConnectorContext, OutboundMessage, SendResult, Session } from '../connectors/connector.ts';
import { createConnectorContext, type MediaAccess } from '../connectors/connector-context.ts';
import { clusterScoped, dropSessionLease, renewSessionLeases, SESSION_LEASE_MS, takeSessionLease } from './session-leases.ts';
import { checkUrl } from '../media/url-guard.ts';
import type { Db } from '../db/database.ts';
import type { Signal } from '../db/signal.ts';
import { failures } from '../connectors/failures.ts';
import type { Outbox } from '../webhooks/emit.ts';
import { sessionReportWriter, type Ride } from './session-reports.ts';

// Connector sessions of this process, one per channel: opened by the first send that needs it (or,
// for connectors that receive, by the sweep below for every active channel), reopened when the
// channel's connector config changes, closed when the channel is deactivated or deleted and on
// shutdown. Each session's window bounds the sends it has in flight; a send waits for a slot of its
// own channel's session only, never for another channel's provider.

export interface SessionDeps {
  db: Db;
  /** This worker's id: the owner of the cluster-wide session leases it takes (session-leases.ts). */
  owner: string;
  log: Logger;
  clock: Clock;
  /** Wakes the loop that applies provider events: reports a session wrote for later. */
  signal: Signal;
  connectors: Map<string, Connector>;
  allowPrivateUrls: boolean;
  media?: MediaAccess;
  /** Where the status changes that receipts make emit their webhooks. */
  outbox: Outbox;
}

interface Held {
  channel: Channel;
  /** Held under a cluster-wide lease (session-leases.ts). */
  leased: boolean;
  fingerprint: string;
  session: Promise<Session>;
  /** The session's window once it is open (undefined while opening). */
  window?: number;
  inFlight: number;
  waiting: Array<() => void>;
  /** When the next send may start, for a session with a rate (ratePerSecond). */
  nextSendAt: number;
}

export interface SendOptions {
  /** The send is aborted after this long (the session must give up on the provider by then). */
  timeoutMs: number;
  /**
   * A send that has not started by this moment is not started at all: the message is handed back
   * (a throttled result, no attempt spent), because its claim is about to run out and another
   * worker may take it.
   */
  notAfter: number;
}

const fingerprint = (c: Channel) => JSON.stringify([c.connectorType, c.connectorConfig, c.status, clusterScoped(c)]);

/** The channel's one cluster-wide session is held by another process. */
class HeldElsewhere extends Error {}

export class Sessions {
  private readonly held = new Map<string, Held>();
  private readonly reports;
  private closing = false;
  /** Channels whose cluster-wide session another process holds, until when to leave them be. */
  private readonly elsewhere = new Map<string, { channelId: string; until: number }>();

  constructor(private readonly deps: SessionDeps) {
    this.reports = sessionReportWriter(deps.db, deps.outbox, () => deps.clock.now(), () => deps.signal.notify());
  }

  /** The outcome of a send with these part references is being committed until `committed` settles; its receipts may `ride` with it (session-reports.ts). */
  recording(channel: { workspaceId: string; id: string }, references: string[], committed: Promise<unknown>, ride?: Ride): void {
    if (references.length) this.reports.recording(channel.workspaceId, channel.id, references, committed, ride);
  }

  /**
   * Sends through the channel's session, waiting for a slot in its window and for its rate; a send
   * that could not start in time (or while shutting down) comes back as not sent (see SendOptions).
   */
  async send(connector: Connector, message: OutboundMessage, o: SendOptions): Promise<SendResult> {
    const held = this.hold(connector, message.channel);
    let session: Session;
    try {
      session = await held.session;
    } catch (err) {
      // Not ours to send: handed back at once, for the process that holds the session.
      if (err instanceof HeldElsewhere) return HANDED_BACK;
      throw err;
    }
    while (held.inFlight >= Math.max(1, session.window)) await new Promise<void>((r) => held.waiting.push(r));
    held.inFlight++;
    try {
      if (session.ratePerSecond && session.ratePerSecond > 0) {
        const now = Date.now();
        const start = Math.max(now, held.nextSendAt);
        held.nextSendAt = start + 1000 / session.ratePerSecond;
        if (start > now) await new Promise((r) => setTimeout(r, start - now));
      }
      if (this.closing || Date.now() > o.notAfter) return NOT_SENT;
      return await session.send(message, AbortSignal.timeout(o.timeoutMs));
    } finally {
      held.inFlight--;
      held.waiting.shift()?.();
    }
  }

  /** Channels this process leaves alone: their one cluster-wide session is held by another. */
  heldElsewhere(): string[] {
    const now = Date.now();
    const ids: string[] = [];
    for (const [key, e] of this.elsewhere) {
      if (e.until > now) ids.push(e.channelId);
      else this.elsewhere.delete(key);
    }
    return ids;
  }

  /** Channels with an open session here, and its window. */
  openWindows(): Array<{ workspaceId: string; id: string; window: number }> {
    const out: Array<{ workspaceId: string; id: string; window: number }> = [];
    for (const h of this.held.values()) if (h.window !== undefined) out.push({ workspaceId: h.channel.workspaceId, id: h.channel.id, window: h.window });
    return out;
  }

  /** The window of the channel's open session; undefined when none is open (yet). */
  windowOf(channel: { workspaceId: string; id: string }): number | undefined {
    return this.held.get(keyOf(channel))?.window;
  }

  /**
   * Brings sessions in line with the channels: opens one for every active channel of a connector that
   * receives, closes those of channels changed, gone or inactive (a changed one reopens on its next
   * send, or here if it receives), and renews cluster-wide leases.
   */
  async sweep(): Promise<void> {
    const listening = [...this.deps.connectors.values()].filter((c) => c.listens).map((c) => c.type);
    const heldIds = [...this.held.values()].map((h) => h.channel.id);
    // Active channels that receive (a session each) or that hold a session here (opened by a send).
    const rows =
      listening.length || heldIds.length
        ? await this.deps.db
            .selectFrom('channels')
            .selectAll()
            .where('status', '=', 'active')
            .where((eb) => eb.or([...(listening.length ? [eb('connector_type', 'in', listening)] : []), ...(heldIds.length ? [eb('id', 'in', heldIds)] : [])]))
            .execute()
        : [];
    const current = new Map(rows.map((row) => {
      const channel = toChannel(row);
      return [keyOf(channel), channel] as const;
    }));
    // Sessions held under a cluster-wide lease: renewed, or closed where the lease was lost (this
    // process stalled past it and another took over).
    const leased = [...this.held.values()].filter((h) => h.leased).map((h) => h.channel);
    const lost = await renewSessionLeases(this.deps.db, this.deps.owner, leased);
    for (const [key, held] of this.held) {
      if (held.leased && lost.has(held.channel.id)) {
        this.deps.log.warn({ channelId: held.channel.id }, 'cluster-wide session lease lost; closing the session here');
        this.held.delete(key);
        void held.session.then((s) => s.close()).catch(() => {});
        continue;
      }
      const ch = current.get(key);
      if (!ch || fingerprint(ch) !== held.fingerprint) await this.close(key);
    }
    const skip = new Set(this.heldElsewhere());
    for (const channel of current.values()) {
      if (!listening.includes(channel.connectorType) || skip.has(channel.id) || this.held.has(keyOf(channel))) continue;
      const connector = this.deps.connectors.get(channel.connectorType)!;
      const held = this.hold(connector, channel);
      // A session that cannot open is retried at the next sweep, not left broken.
      held.session.catch(() => this.held.get(keyOf(channel)) === held && this.held.delete(keyOf(channel)));
    }
  }

  /** From now on, sends that have not started come back not sent (shutdown). */
  stopSending(): void {
    this.closing = true;
  }

  async closeAll(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.held.keys()].map((k) => this.close(k)));
    await this.reports.drain();
  }

  private hold(connector: Connector, channel: Channel): Held {
    const key = keyOf(channel);
    const fp = fingerprint(channel);
    let held = this.held.get(key);
    if (held && held.fingerprint !== fp) {
      void this.close(key);
      held = undefined;
    }
    if (!held) {
      const leased = clusterScoped(channel);
      const session = leased ? this.openLeased(connector, channel) : connector.open(channel, this.contextFor(channel));
      const h: Held = (held = { channel, leased, fingerprint: fp, session, inFlight: 0, waiting: [], nextSendAt: 0 });
      this.held.set(key, held);
      session.then(
        (s) => {
          h.window = Math.max(1, s.window);
          this.deps.log.info({ channelId: channel.id, connector: connector.type }, 'connector session opened');
        },
        (err) => {
          if (err instanceof HeldElsewhere) this.deps.log.debug({ channelId: channel.id }, 'cluster-wide session held by another process');
          else this.deps.log.warn({ channelId: channel.id, connector: connector.type, err: (err as Error).message }, 'connector session failed to open');
          if (this.held.get(key) === held) this.held.delete(key);
        },
      );
    }
    return held;
  }

  private async openLeased(connector: Connector, channel: Channel): Promise<Session> {
    if (!(await takeSessionLease(this.deps.db, channel, this.deps.owner))) {
      // Asked again a third of a lease later: by then a holder that died has been given up on.
      this.elsewhere.set(keyOf(channel), { channelId: channel.id, until: Date.now() + SESSION_LEASE_MS / 3 });
      throw new HeldElsewhere(`channel ${channel.id}: its session is held by another process`);
    }
    this.elsewhere.delete(keyOf(channel));
    try {
      return await connector.open(channel, this.contextFor(channel));
    } catch (err) {
      await dropSessionLease(this.deps.db, channel, this.deps.owner).catch(() => {});
      throw err;
    }
  }

  private async close(key: string): Promise<void> {
    const held = this.held.get(key);
    if (!held) return;
    this.held.delete(key);
    try {
      await (await held.session).close();
      this.deps.log.info({ session: key }, 'connector session closed');
      // Given up on purpose: the next process may take the channel's session at once.
      if (held.leased) await dropSessionLease(this.deps.db, held.channel, this.deps.owner);
    } catch (err) {
      this.deps.log.warn({ session: key, err: (err as Error).message }, 'connector session did not close cleanly');
    }
  }

  private contextFor(channel: Channel): ConnectorContext {
    const { log, clock, media, allowPrivateUrls } = this.deps;
    return createConnectorContext(channel, { log, clock, media, checkUrl: (url) => checkUrl(url, allowPrivateUrls), writeReports: (rows) => this.reports.submit(rows) });
  }
}

const HANDED_BACK: SendResult = {
  ok: false,
  retryable: true,
  throttled: true,
  retryAfterMs: 0,
  failure: failures.dependencyError('the channel session is held by another process', 'pre-processing'),
  reason: 'not sent: the channel session is held by another process',
};

const NOT_SENT: SendResult = {
  ok: false,
  retryable: true,
  throttled: true,
  retryAfterMs: 0,
  failure: failures.dependencyError('no send slot in time', 'pre-processing'),
  reason: 'not sent: waited too long for a send slot',
};

const keyOf = (c: { workspaceId: string; id: string }) => `${c.workspaceId}:${c.id}`;
