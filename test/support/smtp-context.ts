import pino from 'pino';
import type { ConnectorContext, ProviderEvent } from '../../src/connectors/connector.ts';

// A ConnectorContext for connector tests: reports land in a list (a waiter resolves on each), media in
// a map; fetch is the real one (tests serve attachments on loopback).
export function testContext() {
  const events: ProviderEvent[] = [];
  const media = new Map<string, { data: Buffer; type: string; filename?: string }>();
  const waiters: (() => void)[] = [];
  let failReport = false;
  const ctx: ConnectorContext = {
    log: pino({ level: 'silent' }),
    now: () => new Date(),
    fetch: (url, init) => fetch(url, init),
    mediaLink: async (url) => url,
    storeMedia: async (data, type, filename) => {
      const url = `https://media.aviary.test/${media.size + 1}`;
      media.set(url, { data, type, filename });
      return url;
    },
    report: async (ev) => {
      if (failReport) throw new Error('database down');
      events.push(...ev);
      waiters.splice(0).forEach((w) => w());
    },
  };
  return {
    ctx, events, media,
    setFailReport: (v: boolean) => { failReport = v; },
    async next(pred: (e: ProviderEvent) => boolean, timeoutMs = 10_000): Promise<ProviderEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const e = events.find(pred);
        if (e) return e;
        if (Date.now() > deadline) throw new Error('timed out waiting for a provider event');
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 200); });
      }
    },
  };
}
