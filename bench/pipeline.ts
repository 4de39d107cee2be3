// The message pipeline harness: real processes (bin/aviary.js) on a throwaway PostgreSQL database,
// a channel of either connector (the sandbox, or SMPP to an `aviary smsc` child process), and
// optionally a `sms.outbound` subscription filtered to `delivered` on the loopback webhook receiver.
// bench/smpp.ts builds its scenarios (`npm run bench -- --only smpp-pipeline|smpp-drain|send-latency`)
// from these pieces; run as a script it is issue 3's sandbox figures:
//
//   npx tsx bench/pipeline.ts [--backlog 20000] [--rate 500] [--seconds 10]
//
// Throughput: a backlog is accepted through the API with no worker running, then N worker processes
// start and we time from the first claim to the last `sent` and the last `delivered` (from the
// status history, so process start-up is not counted). Latency: one worker runs while the API takes
// a paced rate; accept -> sent is read from each message's status history.
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { createChannel } from '../src/channels/channels.ts';
import { WEBHOOK_EVENTS } from '../src/context.ts';
import { Outbox } from '../src/webhooks/emit.ts';
import { createSubscription } from '../src/webhooks/subscriptions.ts';
import { smsBody } from './bodies.ts';
import { runAutocannon, runPaced, type LoadResult } from './load.ts';
import { dropBenchDatabase } from './pg.ts';
import { setupStore, startAviaryChild, startReceiver, startSmscChild, type AviaryChild, type BenchStore, type Receiver, type SmscChild } from './processes.ts';

export type ChannelKind = 'sandbox' | 'smpp';

export interface PipelineOptions {
  tag: string;
  kind: ChannelKind;
  /** `aviary smsc` flags (SMPP only), e.g. ['--response-delay-ms', '50']. */
  smscFlags?: string[];
  /** SMPP channel config windowSize (default: the connector's). */
  windowSize?: number;
  /** More SMPP channel config (e.g. receiptSettles). */
  smppConfig?: Record<string, unknown>;
  /** Sandbox channel config receiptDelayMs (default: the connector's, 100 ms). */
  sandboxReceiptDelayMs?: number;
  /** A sms.outbound subscription filtered to the channel and `delivered`, on a loopback receiver. */
  webhookDelivered?: boolean;
}

export interface Pipeline {
  kind: ChannelKind;
  store: BenchStore;
  channelId: string;
  key: string;
  /** POST path of the channel's messages. */
  path: string;
  smsc?: SmscChild;
  receiver?: Receiver;
  aviary: AviaryChild[];
  /** Starts `aviary serve` with these flags (e.g. ['--roles', 'worker']); stopped by close(). */
  startAviary(extra?: string[], nodeArgs?: string[]): Promise<AviaryChild>;
  /** The API's base URL (the first Aviary started with the api role). */
  apiUrl(): string;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function openPipeline(o: PipelineOptions): Promise<Pipeline> {
  const store = await setupStore(o.tag);
  const { db, boot } = store;
  const ws = boot.workspace.id;
  let smsc: SmscChild | undefined;
  let receiver: Receiver | undefined;
  const aviary: AviaryChild[] = [];
  const close = async () => {
    for (const a of aviary.splice(0).reverse()) await a.stop();
    await smsc?.stop();
    receiver?.close();
    await db.close();
    await dropBenchDatabase(store.name);
  };
  try {
    let channelId: string;
    if (o.kind === 'smpp') {
      smsc = await startSmscChild(o.smscFlags ?? []);
      const channel = await createChannel(db.db, ws, {
        platform: 'sms',
        name: 'SMPP (bench)',
        connectorType: 'smpp',
        connectorConfig: { host: '127.0.0.1', port: smsc.port, systemId: 'bench', password: 'bench', ...(o.windowSize ? { windowSize: o.windowSize } : {}), ...o.smppConfig },
      });
      channelId = channel.id;
    } else {
      const sms = boot.channels.find((c) => c.platform === 'sms')!;
      channelId = sms.id;
      if (o.sandboxReceiptDelayMs !== undefined) {
        await sql`update channels set connector_config = ${JSON.stringify({ ...sms.connectorConfig, receiptDelayMs: o.sandboxReceiptDelayMs })}::jsonb where id = ${channelId}`.execute(db.db);
      }
    }
    if (o.webhookDelivered) {
      receiver = await startReceiver('raw', false);
      await createSubscription(db.db, new Outbox(WEBHOOK_EVENTS), ws, {
        organizationId: boot.organizationId,
        service: 'channels',
        event: 'sms.outbound',
        url: `http://127.0.0.1:${receiver.port}/webhooks/bird`,
        eventFilters: [
          { key: 'channelId', value: channelId },
          { key: 'messageStatus', value: 'delivered' },
        ],
      });
    }
    return {
      kind: o.kind,
      store,
      channelId,
      key: boot.accessKey,
      path: `/workspaces/${ws}/channels/${channelId}/messages`,
      smsc,
      receiver,
      aviary,
      startAviary: async (extra = [], nodeArgs = []) => {
        const a = await startAviaryChild(store.url, extra, nodeArgs);
        aviary.push(a);
        return a;
      },
      apiUrl: () => {
        const url = aviary.find((a) => a.url)?.url;
        if (!url) throw new Error('no Aviary with the api role started');
        return url;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Closed loop: `amount` POSTs over `connections` keep-alive sockets (bodies: bench/bodies.ts, tagged `tag`). */
export function postMessages(p: Pipeline, amount: number, tag: string, connections = 50): Promise<LoadResult> {
  return runAutocannon(
    { url: p.apiUrl(), method: 'POST', path: p.path, headers: { authorization: `AccessKey ${p.key}` }, body: (i) => JSON.stringify(smsBody(i, { tag, newEvery: 0 })) },
    { connections, pipelining: 1, amount },
  );
}

const accepted2xx = (r: LoadResult) => r.byStatus['202'] ?? 0;

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Waits until `count()` reaches `target`, or stops moving for `stallMs` (something was lost: the
 * caller reports the shortfall rather than waiting out a long timeout). Returns the last count.
 * `everyMs`: how often to count.
 */
export async function waitForCount(count: () => Promise<number>, target: number, stallMs = 15_000, timeoutMs = 600_000, everyMs = 100): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let movedAt = Date.now();
  for (;;) {
    const n = await count();
    if (n >= target) return n;
    if (n !== last) (last = n), (movedAt = Date.now());
    if (Date.now() - movedAt > stallMs || Date.now() > deadline) return n;
    await sleep(everyMs);
  }
}

export async function countByStatus(p: Pipeline, status: string, tag?: string): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from messages where direction = 'outgoing' and status = ${status}
    and (${tag ?? null}::text is null or reference like ${`bench-${tag}-%`})`.execute(p.store.db.db);
  return r.rows[0].n;
}

/** Messages with more than one `sent` in their history: sent twice (must be 0). */
export async function sentTwice(p: Pipeline): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from (select message_id from message_status_history where status = 'sent' group by message_id having count(*) > 1) x`.execute(p.store.db.db);
  return r.rows[0].n;
}

export interface DrainResult {
  kind: ChannelKind;
  workers: number;
  accepted: number;
  acceptRps: number;
  non2xx: number;
  /** First claim (processing) to the last sent / delivered. */
  sentSeconds: number;
  deliveredSeconds: number;
  sentPerSec: number;
  deliveredPerSec: number;
  sentTwice: number;
  /** Accepted messages not delivered when the count stopped moving (lost receipts: must be 0). */
  notDelivered: number;
}

/**
 * A backlog accepted with no worker running (an api-only Aviary must be started), then `workers`
 * worker processes drain it. The hooks let the caller wait for a quiet machine and sample CPU.
 */
export async function drainBacklog(
  p: Pipeline,
  o: { backlog: number; workers: number; workerArgs?: string[]; workerNodeArgs?: string[]; beforeWorkers?: () => Promise<void>; workersStarted?: () => Promise<void>; afterDrain?: () => Promise<void> },
): Promise<DrainResult> {
  const acc = await postMessages(p, o.backlog, 'drain');
  const accepted = await countByStatus(p, 'accepted', 'drain');
  await o.beforeWorkers?.();
  for (let w = 0; w < o.workers; w++) await p.startAviary(['--roles', 'worker', ...(o.workerArgs ?? [])], o.workerNodeArgs);
  await o.workersStarted?.();
  // Counted once a second, not ten times: each count reads every message (tens of ms of PostgreSQL's
  // CPU on the 2 cores the drain is using; at 100 ms it took a sixth of a core from the drain, and
  // counted in its PostgreSQL CPU). The span is measured from the status history, not from here.
  const delivered = await waitForCount(() => countByStatus(p, 'delivered', 'drain'), accepted, 15_000, 600_000, 1_000);
  await o.afterDrain?.();
  const span = await sql<{ sent: number; delivered: number }>`
    select extract(epoch from (max(at) filter (where status = 'sent') - min(at) filter (where status = 'processing')))::float8 as sent,
           extract(epoch from (max(at) filter (where status = 'delivered') - min(at) filter (where status = 'processing')))::float8 as delivered
    from message_status_history`.execute(p.store.db.db);
  const span0 = span.rows[0];
  return {
    kind: p.kind,
    workers: o.workers,
    accepted,
    acceptRps: acc.rps,
    non2xx: acc.completed - accepted2xx(acc) + acc.errors,
    sentSeconds: span0.sent,
    deliveredSeconds: span0.delivered,
    sentPerSec: accepted / span0.sent,
    deliveredPerSec: delivered / span0.delivered,
    sentTwice: await sentTwice(p),
    notDelivered: accepted - delivered,
  };
}

export interface LatencyResult {
  kind: ChannelKind;
  rate: number;
  achieved: number;
  messages: number;
  notSent: number;
  postP50: number;
  postP99: number;
  acceptToSentP50: number;
  acceptToSentP90: number;
  acceptToSentP99: number;
  acceptToSentMax: number;
  /** The same p50/p99 split at the claim: accepted -> processing (the claim's time) and processing -> sent. */
  toClaimP50: number;
  toClaimP99: number;
  claimToSentP50: number;
  claimToSentP99: number;
}

/** A paced `rate` of POSTs for `seconds` to a running API + worker; accept -> sent from the status history. */
export async function acceptToSent(p: Pipeline, o: { rate: number; seconds: number; warmup?: number }): Promise<LatencyResult> {
  // Warm-up: contacts, caches, JIT, the session's bind.
  await postMessages(p, o.warmup ?? 2_000, 'latwarm');
  await waitFor(async () => (await countByStatus(p, 'accepted', 'latwarm')) + (await countByStatus(p, 'processing', 'latwarm')) === 0, 60_000, 'the warm-up to be sent');
  const load = await runPaced(
    { url: p.apiUrl(), method: 'POST', path: p.path, headers: { authorization: `AccessKey ${p.key}` }, body: (i) => JSON.stringify(smsBody(i, { tag: 'lat', newEvery: 0 })) },
    { rate: o.rate, seconds: o.seconds, maxSockets: 50 },
  );
  const unsent = async () => (await countByStatus(p, 'accepted', 'lat')) + (await countByStatus(p, 'processing', 'lat'));
  await waitFor(async () => (await unsent()) === 0, 30_000, 'the paced messages to be sent').catch(() => {});
  const q = await sql<{ n: number; p: number[]; a: number[]; b: number[] }>`
    select count(*)::int as n, percentile_cont(array[0.5, 0.9, 0.99, 1.0]) within group (order by extract(epoch from (s.at - a.at)) * 1000) as p,
      percentile_cont(array[0.5, 0.99]) within group (order by extract(epoch from (c.at - a.at)) * 1000) as a,
      percentile_cont(array[0.5, 0.99]) within group (order by extract(epoch from (s.at - c.at)) * 1000) as b
    from messages m
    join message_status_history a on a.message_id = m.id and a.status = 'accepted'
    join message_status_history c on c.message_id = m.id and c.status = 'processing'
    join message_status_history s on s.message_id = m.id and s.status = 'sent'
    where m.reference like 'bench-lat-%'`.execute(p.store.db.db);
  const [p50, p90, p99, max] = q.rows[0].p ?? [NaN, NaN, NaN, NaN];
  const [toClaimP50, toClaimP99] = q.rows[0].a ?? [NaN, NaN];
  const [claimToSentP50, claimToSentP99] = q.rows[0].b ?? [NaN, NaN];
  return {
    kind: p.kind,
    rate: o.rate,
    achieved: load.rps,
    messages: accepted2xx(load),
    notSent: await unsent(),
    postP50: load.p50,
    postP99: load.p99,
    acceptToSentP50: p50,
    acceptToSentP90: p90,
    acceptToSentP99: p99,
    acceptToSentMax: max,
    toClaimP50,
    toClaimP99,
    claimToSentP50,
    claimToSentP99,
  };
}

// ------------------------------------------------------------------- issue 3's figures, as a script

async function main() {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const backlog = arg('backlog', 20_000);
  const drains: DrainResult[] = [];
  for (const workers of [1, 2]) {
    const p = await openPipeline({ tag: `pipe${workers}`, kind: 'sandbox', sandboxReceiptDelayMs: 10 });
    try {
      await p.startAviary(['--roles', 'api']);
      drains.push(await drainBacklog(p, { backlog, workers }));
    } finally {
      await p.close();
    }
  }
  const p = await openPipeline({ tag: 'lat', kind: 'sandbox', sandboxReceiptDelayMs: 10 });
  let lat: LatencyResult;
  try {
    await p.startAviary(['--roles', 'api']);
    await p.startAviary(['--roles', 'worker']);
    lat = await acceptToSent(p, { rate: arg('rate', 500), seconds: arg('seconds', 10) });
  } finally {
    await p.close();
  }
  console.log('\naccepted -> delivered through the sandbox (PostgreSQL, receipts after 10 ms)');
  console.table(drains.map((t) => ({ workers: t.workers, messages: t.accepted, 'sent/s': Math.round(t.sentPerSec), 'delivered/s': Math.round(t.deliveredPerSec), seconds: t.deliveredSeconds.toFixed(1), 'sent twice': t.sentTwice, 'POST non-2xx': t.non2xx })));
  console.log(`\nat ${lat.rate} msg/s (achieved ${lat.achieved.toFixed(0)}/s): accept -> sent p50 ${lat.acceptToSentP50.toFixed(1)} ms, p99 ${lat.acceptToSentP99.toFixed(1)} ms; POST p50 ${lat.postP50.toFixed(1)} ms, p99 ${lat.postP99.toFixed(1)} ms`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
