import type { Logger } from 'pino';
import type { Channel } from '../channels/channels.ts';
import type { Clock } from '../clock.ts';
import type { ConnectorContext, ProviderEvent } from './connector.ts';
import { reportRow, type ReportRow } from './reports.ts';

// The one way a connector is given the world: built the same for a worker's session
// (dispatch/sessions.ts) and for a provider's HTTP callback (callback-routes.ts), so a connector
// cannot tell, and need not care, which process it runs in.

export interface MediaAccess {
  link(workspaceId: string, url: string): Promise<string>;
  store(workspaceId: string, channelId: string, data: Buffer, contentType: string, filename?: string): Promise<string>;
}

export interface ContextDeps {
  log: Logger;
  clock: Clock;
  /** Throws for a URL the operator did not allow (private addresses: media/url-guard.ts). */
  checkUrl(url: string): void;
  media?: MediaAccess;
  /** Writes report rows durably (a group-committed writer: reports.ts). */
  writeReports(rows: ReportRow[]): Promise<void>;
}

export function createConnectorContext(channel: Channel, deps: ContextDeps): ConnectorContext {
  const log = deps.log.child({ channelId: channel.id, connector: channel.connectorType });
  return {
    log,
    now: () => deps.clock.now(),
    fetch: async (url, init = {}) => {
      deps.checkUrl(url);
      const { timeoutMs = 30_000, ...rest } = init;
      return fetch(url, { ...rest, signal: rest.signal ?? AbortSignal.timeout(timeoutMs) });
    },
    mediaLink: async (url) => (deps.media ? deps.media.link(channel.workspaceId, url) : url),
    storeMedia: async (data, contentType, filename) => {
      if (!deps.media) throw new Error('media storage is not available in this process');
      return deps.media.store(channel.workspaceId, channel.id, data, contentType, filename);
    },
    report: async (events: ProviderEvent[]) => {
      if (events.length === 0) return;
      const now = deps.clock.now();
      await deps.writeReports(events.map((e) => reportRow(channel, e, now)));
    },
  };
}
