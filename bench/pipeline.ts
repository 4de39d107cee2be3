// Issue 3's pipeline figures: accepted -> delivered throughput through the sandbox on PostgreSQL with
// 1 and 2 worker processes, and accept -> sent latency at a steady 500 msg/s.
//
//   npx tsx bench/pipeline.ts [--backlog 20000] [--rate 500] [--seconds 10]
//
// Real processes (bin/aviary.js): one API process (--roles api) and N worker processes
// (--roles worker) on a throwaway PostgreSQL database. Throughput: a backlog is accepted through the
// API with no worker running, then the workers start and we time until every message is delivered.
// Latency: one worker runs while the API takes a paced 500 msg/s; accept -> sent is read from each
// message's status history.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { smsBody } from './bodies.ts';
import { createBenchDatabase, dropBenchDatabase } from './pg.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const BACKLOG = arg('backlog', 20_000);
const RATE = arg('rate', 500);
const SECONDS = arg('seconds', 10);
const BIN = fileURLToPath(new URL('../bin/aviary.js', import.meta.url));
const children: ChildProcess[] = [];

function start(url: string, roles: string): Promise<{ child: ChildProcess; out: () => string; listening: Promise<string> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--database-url', url, '--roles', roles, '--port', '0', '--rate-limit', 'false', '--log-level', 'info', '--dispatch-poll-ms', '100'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let resolveUrl: (u: string) => void;
  const listening = new Promise<string>((r) => (resolveUrl = r));
  const onData = (d: Buffer) => {
    out += d.toString();
    const m = /"url":"(http:[^"]+)"/.exec(out);
    if (m && roles.includes('api')) resolveUrl(m[1]);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  return Promise.resolve({ child, out: () => out, listening });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function post(url: string, path: string, key: string, amount: number, rate?: number) {
  let i = 0;
  const result = await autocannon({
    url: `${url}${path}`,
    connections: 50,
    amount,
    overallRate: rate,
    method: 'POST',
    headers: { authorization: `AccessKey ${key}`, 'content-type': 'application/json' },
    requests: [{ setupRequest: (req: any) => ({ ...req, body: JSON.stringify(smsBody(i++, { tag: 'p', newEvery: 0 })) }) }],
  } as any);
  return result;
}

async function setup(tag: string) {
  const db = await createBenchDatabase(tag);
  const api = await start(db.url, 'api');
  const url = await api.listening;
  await waitFor(async () => /access key\s+avk_/.test(api.out()), 20_000);
  const key = /access key\s+(avk_\S+)/.exec(api.out())![1];
  const ws = /workspace\s+([0-9a-f-]{36})/.exec(api.out())![1];
  const sms = /sms\s+([0-9a-f-]{36})/.exec(api.out())![1];
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query(`update channels set connector_config = '{"receiptDelayMs": 10}'`);
  return { db, api, url, key, path: `/workspaces/${ws}/channels/${sms}/messages`, client };
}

async function throughput(workers: number) {
  const s = await setup(`pipe${workers}`);
  // Contacts exist before the run (as in the POST benchmark's steady state).
  const acc = await post(s.url, s.path, s.key, BACKLOG);
  const accepted = Number((await s.client.query(`select count(*) from messages`)).rows[0].count);
  for (let w = 0; w < workers; w++) await start(s.db.url, 'worker');
  await waitFor(async () => Number((await s.client.query(`select count(*) from messages where status = 'delivered'`)).rows[0].count) >= accepted, 600_000);
  // Timed from the first claim to the last receipt, so process start-up is not counted.
  const span = await s.client.query(`
    select extract(epoch from (max(at) filter (where status = 'delivered') - min(at) filter (where status = 'processing'))) as s
    from message_status_history`);
  const seconds = Number(span.rows[0].s);
  const twice = Number((await s.client.query(`select count(*) from (select message_id from message_status_history where status = 'sent' group by message_id having count(*) > 1) x`)).rows[0].count);
  await teardown(s);
  return { workers, accepted, acceptRps: acc.requests.average, non2xx: acc.non2xx + acc.errors, seconds, deliveredPerSec: accepted / seconds, sentTwice: twice };
}

async function latency() {
  const s = await setup('lat');
  await start(s.db.url, 'worker');
  await post(s.url, s.path, s.key, 2_000); // warm-up: contacts, caches, JIT
  await s.client.query(`truncate message_status_history`);
  const r = await post(s.url, s.path, s.key, RATE * SECONDS, RATE);
  await new Promise((res) => setTimeout(res, 1000));
  const q = await s.client.query(`
    select percentile_cont(array[0.5, 0.99]) within group (order by extract(epoch from (s.at - a.at)) * 1000) as p
    from message_status_history a join message_status_history s on s.message_id = a.message_id and s.status = 'sent'
    where a.status = 'accepted'`);
  await teardown(s);
  return { rate: RATE, achieved: r.requests.average, postP50: r.latency.p50, postP99: r.latency.p99, acceptToSentP50: q.rows[0].p[0], acceptToSentP99: q.rows[0].p[1] };
}

async function teardown(s: Awaited<ReturnType<typeof setup>>) {
  await s.client.end();
  for (const c of children.splice(0)) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  await dropBenchDatabase(s.db.name);
}

process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
const t1 = await throughput(1);
const t2 = await throughput(2);
const lat = await latency();
console.log('\naccepted -> delivered through the sandbox (PostgreSQL, receipts after 10 ms)');
console.table([t1, t2].map((t) => ({ workers: t.workers, messages: t.accepted, 'delivered/s': Math.round(t.deliveredPerSec), seconds: t.seconds.toFixed(1), 'sent twice': t.sentTwice, 'POST non-2xx': t.non2xx })));
console.log(`\nat ${lat.rate} msg/s (achieved ${lat.achieved}/s): accept -> sent p50 ${lat.acceptToSentP50.toFixed(1)} ms, p99 ${lat.acceptToSentP99.toFixed(1)} ms; POST p50 ${lat.postP50} ms, p99 ${lat.postP99} ms`);
process.exit(0);
