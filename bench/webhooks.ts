// Webhook delivery benchmarks (results: bench/WEBHOOKS.md). `npx tsx bench/webhooks.ts [options]`
//
//   --only throughput|latency   one phase (default both)
//   --events N                  deliveries queued for the throughput run (default 200000)
//   --chain M                   events per message in the throughput run (default 1; >1 exercises ordering)
//   --workers K                 Aviary worker processes sharing the queue (default 2)
//   --concurrency C             --webhook-concurrency of each worker (default Aviary's)
//   --receiver raw|node         receiver implementation (default raw; see bench/webhooks-receiver.ts)
//   --rate R                    events per second in the latency run (default 1000: R/4 messages/s, 4 statuses each)
//   --seconds S                 length of the latency run (default 20)
//   --split                     latency run with the API and the worker (dispatch + webhooks) in two processes
//   --json FILE                 also write the results as JSON
//
// Throughput: N deliveries to one subscription are queued in PostgreSQL (as emit would write them, body
// ~0.9 KB), then K `aviary serve --roles worker` processes are started and the receiver counts until
// every request id has arrived. Reported: deliveries per second from the first receipt to the last, the
// best one-second rate, duplicates, and where the CPU went.
// Latency: one `aviary serve` (api + worker) on PostgreSQL, a subscription to sms.outbound, messages
// POSTed at a steady R/4 per second; each goes accepted, processing, sent, delivered (the sandbox's
// receipt comes 100 ms after the send): R webhook events per second. The receiver records, per event,
// receipt time minus the payload's lastStatusAt (the moment Aviary gave the status; overall and per
// status), and receipt time minus the moment the event was written (the request id is a UUIDv7 of it).
// CPU is read from /proc: the Aviary processes, the receiver, and the PostgreSQL backends of the
// run's database (not PostgreSQL's shared background processes, which other databases use too).
//
// Uses throwaway databases aviary_bench_* on AVIARY_BENCH_DATABASE_URL (default local PostgreSQL).

import http from 'node:http';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { sql } from 'kysely';
import { uuidv7 } from '../src/ids.ts';
import { messagePayload } from '../src/messages/message-events.ts';
import { createSubscription } from '../src/webhooks/subscriptions.ts';
import { Outbox } from '../src/webhooks/emit.ts';
import { WEBHOOK_EVENTS } from '../src/context.ts';
import type { MessageRow } from '../src/db/schema.ts';
import { waitForQuiet } from './cpu.ts';
import { dropAllCreated, dropBenchDatabase, postgresVersion } from './pg.ts';
import { cpuOf, killBenchProcesses, pgCpu, pgCpuSince, setupStore, startAviaryChild, startReceiver, type AviaryChild } from './processes.ts';

function parseArgs(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) m.set(a.slice(2, eq), a.slice(eq + 1));
    else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) m.set(a.slice(2), argv[++i]);
    else m.set(a.slice(2), 'true');
  }
  return m;
}
const args = parseArgs(process.argv.slice(2));
const known = ['only', 'events', 'chain', 'workers', 'concurrency', 'receiver', 'rate', 'seconds', 'split', 'json'];
for (const k of args.keys()) if (!known.includes(k)) throw new Error(`unknown option --${k}`);
const num = (k: string, d: number) => (args.has(k) ? Number(args.get(k)) : d);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A realistic body: the sms.outbound payload of a delivered message, as emit builds it. */
function sampleBody(channelId: string, workspaceId: string): string {
  const now = new Date();
  const row = {
    workspace_id: workspaceId,
    id: uuidv7(),
    channel_id: channelId,
    platform: 'sms',
    direction: 'outgoing',
    status: 'delivered',
    sender: { connector: { id: uuidv7(), identifierValue: '+15550100001' } },
    receiver: { contacts: [{ id: uuidv7(), identifierKey: 'phonenumber', identifierValue: '+31612345678', countryCode: 'NL', platformAddress: '+31612345678' }] },
    body: { type: 'text', text: { text: 'Your verification code is 123456. It expires in 10 minutes. Do not share it with anyone.' } },
    template: null,
    meta: null,
    reference: 'order-4711',
    reply_to: null,
    tags: ['otp'],
    short_links: null,
    scheduled_for: null,
    batch_id: null,
    reason: null,
    details: null,
    failure: null,
    parts: [{ platformReference: `${uuidv7()}:1` }],
    chargeable_units: 1,
    origin: null,
    created_at: now,
    updated_at: now,
    last_status_at: now,
  } as unknown as MessageRow;
  return JSON.stringify({ service: 'channels', event: 'sms.outbound', payload: messagePayload(row) });
}

// ---------------------------------------------------------------------------------------- throughput

async function throughput() {
  const events = num('events', 200_000);
  const chain = num('chain', 1);
  const workers = num('workers', 2);
  const kind = args.get('receiver') ?? 'raw';
  const { db, name, url, boot } = await setupStore('wh');
  const receiver = await startReceiver(kind, false);
  try {
    const ws = boot.workspace.id;
    const sms = boot.channels.find((c) => c.platform === 'sms')!;
    const sub = await createSubscription(db.db, new Outbox(WEBHOOK_EVENTS), ws, {
      organizationId: boot.organizationId,
      service: 'channels',
      event: 'sms.outbound',
      url: `http://127.0.0.1:${receiver.port}/webhooks/bird`,
    });
    const body = sampleBody(sms.id, ws);
    const t0 = performance.now();
    for (let done = 0; done < events; done += 50_000) {
      const n = Math.min(50_000, events - done);
      await sql`
        insert into webhook_deliveries (workspace_id, id, subscription_id, event, order_key, body, created_at, next_attempt_at, updated_at)
        select ${ws}::uuid, gen_random_uuid(), ${sub.id}::uuid, 'sms.outbound', md5(((${done}::int + i - 1) / ${chain}::int)::text)::uuid, ${body}, now(), now(), now()
        from generate_series(1, ${n}::int) as i`.execute(db.db);
    }
    const queuedMs = performance.now() - t0;
    await sql`vacuum analyze webhook_deliveries`.execute(db.db);
    console.log(`queued ${events} deliveries (${chain} per message, body ${Buffer.byteLength(body)} B) in ${(queuedMs / 1000).toFixed(1)} s`);

    const quiet = await waitForQuiet(30_000);
    console.log(`machine busy before the run: ${quiet.busy.toFixed(2)} cores (waited ${(quiet.waitedMs / 1000).toFixed(1)} s)`);
    const extra = ['--roles', 'worker', ...(args.has('concurrency') ? ['--webhook-concurrency', args.get('concurrency')!] : [])];
    const started = await Promise.all(Array.from({ length: workers }, () => startAviaryChild(url, extra)));
    const workerPids = started.map((w) => w.pid);
    // Sample once a second until everything arrived.
    const cpu0 = { workers: cpuOf(workerPids), receiver: cpuOf([receiver.pid]), pg: await pgCpu(name) };
    let last = await receiver.stats();
    let best = 0;
    /** Deliveries per whole second after the first receipt, up to the second in which the last arrived. */
    const seconds: number[] = [];
    const deadline = Date.now() + Math.max(120_000, events / 100);
    let cpuStart = cpu0;
    let windowStarted = false;
    while (last.unique < events && Date.now() < deadline) {
      await sleep(1000);
      const s = await receiver.stats();
      if (!windowStarted && s.total > 0) {
        windowStarted = true;
        cpuStart = { workers: cpuOf(workerPids), receiver: cpuOf([receiver.pid]), pg: await pgCpu(name) };
      }
      best = Math.max(best, s.total - last.total);
      if (last.total > 0 && s.unique < events) seconds.push(s.total - last.total);
      last = s;
    }
    const cpu1 = { workers: cpuOf(workerPids), receiver: cpuOf([receiver.pid]), pg: await pgCpu(name) };
    const wallSec = (last.lastAt - last.firstAt) / 1000;
    const result = {
      events,
      chain,
      workers,
      receiver: kind,
      delivered: last.unique,
      duplicates: last.total - last.unique,
      wallSec: Math.round(wallSec * 100) / 100,
      perSec: Math.round(last.unique / wallSec),
      bestSecond: best,
      // The steady rate: the median full second, leaving out the ramp-up as worker processes start.
      medianSecond: seconds.length ? [...seconds].sort((a, b) => a - b)[Math.floor(seconds.length / 2)] : 0,
      cpuSec: {
        workers: Math.round((cpu1.workers - cpuStart.workers) * 10) / 10,
        receiver: Math.round((cpu1.receiver - cpuStart.receiver) * 10) / 10,
        postgres: Math.round(pgCpuSince(cpuStart.pg, cpu1.pg) * 10) / 10,
      },
    };
    const pending = await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries where execution_status <> 'succeeded'`.execute(db.db);
    console.log(`throughput: ${result.delivered}/${events} delivered in ${result.wallSec} s = ${result.perSec}/s (median second ${result.medianSecond}/s, best second ${best}/s), ${result.duplicates} duplicates, ${pending.rows[0].n} not recorded as succeeded`);
    const us = (sec: number) => Math.round((sec / result.delivered) * 1e6);
    console.log(
      `  cpu seconds during the run: workers ${result.cpuSec.workers}, receiver ${result.cpuSec.receiver}, postgres backends ${result.cpuSec.postgres} (wall ${result.wallSec} s, ${os.cpus().length} cores); ` +
        `per delivery: workers ${us(result.cpuSec.workers)} us, receiver ${us(result.cpuSec.receiver)} us, postgres ${us(result.cpuSec.postgres)} us`,
    );
    await Promise.all(started.map((w) => w.stop()));
    return result;
  } finally {
    receiver.close();
    await db.close();
    await dropBenchDatabase(name);
  }
}

// ------------------------------------------------------------------------------------------- latency

async function latency() {
  const rate = num('rate', 1000);
  const seconds = num('seconds', 20);
  const kind = args.get('receiver') ?? 'raw';
  const { db, name, url, boot } = await setupStore('whlat');
  const receiver = await startReceiver(kind, true);
  let server: AviaryChild | undefined;
  let worker: AviaryChild | undefined;
  try {
    const ws = boot.workspace.id;
    const sms = boot.channels.find((c) => c.platform === 'sms')!;
    await createSubscription(db.db, new Outbox(WEBHOOK_EVENTS), ws, { organizationId: boot.organizationId, service: 'channels', event: 'sms.outbound', url: `http://127.0.0.1:${receiver.port}/webhooks/bird` });
    const split = args.has('split');
    server = await startAviaryChild(url, split ? ['--roles', 'api'] : []);
    if (split) worker = await startAviaryChild(url, ['--roles', 'worker']);
    const quiet = await waitForQuiet(30_000);
    console.log(`machine busy before the run: ${quiet.busy.toFixed(2)} cores (waited ${(quiet.waitedMs / 1000).toFixed(1)} s)`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const target = new URL(`${server.url!}/workspaces/${ws}/channels/${sms.id}/messages`);
    const post = (i: number) =>
      new Promise<number>((resolve) => {
        // Numbers ending in 5678: the sandbox delivers them (other endings pick failure scenarios).
        const to = `+316${String(i % 10_000).padStart(4, '0')}5678`;
        const body = JSON.stringify({ receiver: { contacts: [{ identifierValue: to }] }, body: { type: 'text', text: { text: `hello ${i}` } } });
        const req = http.request(
          { agent, hostname: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { authorization: `AccessKey ${boot.accessKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', () => resolve(0));
        req.end(body);
      });
    const messagesPerSec = rate / 4;
    const total = Math.round(messagesPerSec * seconds);
    const serverPids = [server.pid, ...(worker ? [worker.pid] : [])];
    const cpu0 = { server: cpuOf(serverPids), receiver: cpuOf([receiver.pid]), pg: await pgCpu(name) };
    const t0 = performance.now();
    let sent = 0;
    const inflight: Promise<number>[] = [];
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * messagesPerSec));
      while (sent < due) inflight.push(post(sent++));
      await sleep(5);
    }
    const statuses = await Promise.all(inflight);
    const accepted = statuses.filter((s) => s === 202).length;
    const expected = accepted * 4;
    let s = await receiver.stats();
    const deadline = Date.now() + 15_000;
    while (s.keys < expected && Date.now() < deadline) {
      await sleep(250);
      s = await receiver.stats();
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = { server: (cpuOf(serverPids) - cpu0.server) / wall, receiver: (cpuOf([receiver.pid]) - cpu0.receiver) / wall, postgres: pgCpuSince(cpu0.pg, await pgCpu(name)) / wall };
    console.log(`  cores used: aviary ${cpu.server.toFixed(2)}, postgres ${cpu.postgres.toFixed(2)}, receiver ${cpu.receiver.toFixed(2)}`);
    const result = { rate, seconds, split, coresUsed: cpu, messages: accepted, expectedEvents: expected, received: s.keys, duplicates: s.total - s.keys, latencyMs: s.latency, fromEmitMs: s.pipeline, byStatus: s.byStatus };
    console.log(
      `latency at ${rate} events/s (${messagesPerSec} messages/s for ${seconds} s): ${s.keys}/${expected} events received; ` +
        `status change -> receipt p50 ${s.latency?.p50} ms, p90 ${s.latency?.p90} ms, p99 ${s.latency?.p99} ms, max ${s.latency?.max} ms; ` +
        `event written -> receipt p50 ${s.pipeline?.p50} ms, p90 ${s.pipeline?.p90} ms, p99 ${s.pipeline?.p99} ms, max ${s.pipeline?.max} ms`,
    );
    console.log(`  status change -> receipt by status: ${Object.entries(s.byStatus ?? {}).map(([k, v]) => `${k} p50 ${v.p50} / p99 ${v.p99} ms`).join(', ')}`);
    if (s.keys < expected) {
      const missing = await sql<{ status: string; n: number }>`
        select m.status, count(*)::int as n from messages m where m.direction = 'outgoing' group by m.status`.execute(db.db);
      const pending = await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries where execution_status <> 'succeeded'`.execute(db.db);
      console.log(`  messages by status: ${JSON.stringify(missing.rows)}; webhook requests not succeeded: ${pending.rows[0].n}`);
    }
    agent.destroy();
    return result;
  } finally {
    await server?.stop();
    await worker?.stop();
    receiver.close();
    await db.close();
    await dropBenchDatabase(name);
  }
}

// ---------------------------------------------------------------------------------------------- main

const cleanup = async () => {
  killBenchProcesses();
  await dropAllCreated();
};
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  const pgv = await postgresVersion();
  if (!pgv) throw new Error('PostgreSQL is not reachable (AVIARY_BENCH_DATABASE_URL)');
  console.log(`# node ${process.version}, PostgreSQL ${pgv}, ${os.cpus().length} x ${os.cpus()[0]?.model}`);
  const only = args.get('only');
  const results: Record<string, unknown> = {};
  if (!only || only === 'throughput') results.throughput = await throughput();
  if (!only || only === 'latency') results.latency = await latency();
  if (args.has('json')) writeFileSync(args.get('json')!, JSON.stringify(results, null, 2));
} catch (err) {
  console.error(err);
  await cleanup();
  process.exitCode = 1;
}
