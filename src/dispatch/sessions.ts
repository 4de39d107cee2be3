import type { Logger } from 'pino';
import { toChannel, type Channel } from '../channels/channels.ts';
import type { Connector, ConnectorContext, OutboundMessage, SendResult, Session } from '../connectors/connector.ts';
import { createConnectorContext, type MediaAccess } from '../connectors/connector-context.ts';
import { reportWriter } from '../connectors/reports.ts';
import { checkUrl } from '../media/url-guard.ts';
import type { Db } from '../db/database.ts';
import type { Signal } from '../db/signal.ts';
import { failures } from '../connectors/failures.ts';

// Connector sessions of this process, one per channel: opened by the first send that needs it (or,
// for connectors that receive, by the sweep below for every active channel), reopened when the
// channel's connector config changes, closed when the channel is deactivated or deleted and on
// shutdown. Each session's window bounds the sends it has in flight; a send waits for a slot of its
// own channel's session only, never for another channel's provider.

export interface SessionDeps {
  db: Db;
  log: Logger;
  signal: Signal;
  connectors: Map<string, Connector>;
  allowPrivateUrls: boolean;
  media?: MediaAccess;
}

interface Held {
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

const fingerprint = (c: Channel) => JSON.stringify([c.connectorType, c.connectorConfig, c.status]);

export class Sessions {
  private readonly held = new Map<string, Held>();
  private readonly reports;
  private closing = false;

  constructor(private readonly deps: SessionDeps) {
    this.reports = reportWriter(deps.db, () => deps.signal.notify());
  }

  /**
   * Sends through the channel's session, waiting for a slot in its window and for its rate; a send
   * that could not start in time (or while shutting down) comes back as not sent (see SendOptions).
   */
  async send(connector: Connector, message: OutboundMessage, o: SendOptions): Promise<SendResult> {
    const held = this.hold(connector, message.channel);
    const session = await held.session;
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

  /** The window of the channel's open session; undefined when none is open (yet). */
  windowOf(channel: { workspaceId: string; id: string }): number | undefined {
    return this.held.get(keyOf(channel))?.window;
  }

  /**
   * Brings sessions in line with the channels: opens one for every active channel of a connector that
   * receives, reopens changed ones, closes those of channels gone or inactive.
   */
  async sweep(): Promise<void> {
    const listening = [...this.deps.connectors.values()].filter((c) => c.listens).map((c) => c.type);
    const active = listening.length
      ? await this.deps.db.selectFrom('channels').selectAll().where('connector_type', 'in', listening).where('status', '=', 'active').execute()
      : [];
    const wanted = new Map<string, Channel>();
    for (const row of active) {
      const channel = toChannel(row);
      wanted.set(keyOf(channel), channel);
    }
    for (const [key, held] of this.held) {
      const ch = wanted.get(key);
      if (!ch || fingerprint(ch) !== held.fingerprint) await this.close(key);
    }
    for (const channel of wanted.values()) {
      const connector = this.deps.connectors.get(channel.connectorType)!;
      const held = this.hold(connector, channel);
      // A session that cannot open is retried at the next sweep, not left broken.
      held.session.catch(() => this.held.get(keyOf(channel)) === held && this.held.delete(keyOf(channel)));
    }
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
      const session = connector.open(channel, this.contextFor(channel));
      const h: Held = (held = { fingerprint: fp, session, inFlight: 0, waiting: [], nextSendAt: 0 });
      this.held.set(key, held);
      session.then(
        (s) => {
          h.window = Math.max(1, s.window);
          this.deps.log.info({ channelId: channel.id, connector: connector.type }, 'connector session opened');
        },
        (err) => {
          this.deps.log.warn({ channelId: channel.id, connector: connector.type, err: (err as Error).message }, 'connector session failed to open');
          if (this.held.get(key) === held) this.held.delete(key);
        },
      );
    }
    return held;
  }

  private async close(key: string): Promise<void> {
    const held = this.held.get(key);
    if (!held) return;
    this.held.delete(key);
    try {
      await (await held.session).close();
      this.deps.log.info({ session: key }, 'connector session closed');
    } catch (err) {
      this.deps.log.warn({ session: key, err: (err as Error).message }, 'connector session did not close cleanly');
    }
  }

  private contextFor(channel: Channel): ConnectorContext {
    const { log, media, allowPrivateUrls } = this.deps;
    return createConnectorContext(channel, { log, media, checkUrl: (url) => checkUrl(url, allowPrivateUrls), writeReports: (rows) => this.reports.submit(rows) });
  }
}

const NOT_SENT: SendResult = {
  ok: false,
  retryable: true,
  throttled: true,
  retryAfterMs: 0,
  failure: failures.dependencyError('no send slot in time', 'pre-processing'),
  reason: 'not sent: waited too long for a send slot',
};

const keyOf = (c: { workspaceId: string; id: string }) => `${c.workspaceId}:${c.id}`;
