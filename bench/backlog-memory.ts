// Issue 11: "memory stays bounded with a backlog of 1,000,000 messages". A worker process on
// PostgreSQL with an SMPP channel whose SMSC answers every submit after 50 ms (window 10, so the
// channel drains at most 200/s): its RSS and what it holds claimed, first idle (the baseline, same
// run), then while a backlog of N messages waits in the database.
//
//   npx tsx bench/backlog-memory.ts [--backlog 1000000] [--seconds 20]
//
// The backlog is written with one INSERT ... SELECT from generate_series (copies of one accepted
// message, each with its own id), not through the API: what is measured is the worker, not the accept.
import { sql } from 'kysely';
import { createLogger, startAviary, type Aviary } from '../src/app.ts';
import { defaultConfig, type Config } from '../src/config.ts';
import { startSmsc } from '../src/smsc/simulator.ts';
import { createBenchDatabase, dropBenchDatabase } from './pg.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const BACKLOG = arg('backlog', 1_000_000);
const SECONDS = arg('seconds', 20);
const mb = (n: number) => Math.round(n / 1024 / 1024);

async function sample(aviary: Aviary, seconds: number): Promise<{ rssMb: number; heapMb: number; pendingMax: number }> {
  let rss = 0;
  let heap = 0;
  let pending = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    global.gc?.();
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
    pending = Math.max(pending, aviary.dispatcher?.pending ?? 0);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { rssMb: mb(rss), heapMb: mb(heap), pendingMax: pending };
}

const db = await createBenchDatabase('backlog');
const sim = await startSmsc({ faults: { responseDelayMs: 50 } });
let aviary: Aviary | undefined;
try {
  const config: Config = { ...defaultConfig(), port: 0, databaseUrl: db.url, logLevel: 'warn', rateLimit: false };
  aviary = await startAviary(config, createLogger({ logLevel: 'warn' }));
  const boot = aviary.bootstrap!;
  const auth = { authorization: `AccessKey ${boot.accessKey}`, 'content-type': 'application/json' };
  const ch = await fetch(`${aviary.url}/workspaces/${boot.workspace.id}/channels`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ name: 'slow smsc', platform: 'sms', connector: { type: 'smpp', config: { host: '127.0.0.1', port: sim.port, systemId: 'bench', password: 'x', windowSize: 10 } } }),
  }).then((r) => r.json() as Promise<{ id: string }>);
  const idle = await sample(aviary, 5);
  const first = await fetch(`${aviary.url}/workspaces/${boot.workspace.id}/channels/${ch.id}/messages`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'text', text: { text: 'backlog' } } }),
  }).then((r) => r.json() as Promise<{ id: string }>);
  const t0 = Date.now();
  // Copies of the first message, due now, in one statement. The worker keeps running meanwhile.
  await sql`
    insert into messages
    select (jsonb_populate_record(m, jsonb_build_object('id', gen_random_uuid(), 'status', 'accepted', 'next_attempt_at', now(), 'lease_owner', null, 'lease_expires_at', null))).*
    from messages m, generate_series(1, ${BACKLOG}) where m.id = ${first.id}`.execute(aviary.ctx.db);
  console.log(`# backlog of ${BACKLOG.toLocaleString()} written in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const sentBefore = sim.counts.submits;
  const loaded = await sample(aviary, SECONDS);
  const drained = sim.counts.submits - sentBefore;
  console.log('| state | peak RSS MB | peak heap MB | held claimed (peak) |');
  console.log('|---|---|---|---|');
  console.log(`| idle (baseline, same run) | ${idle.rssMb} | ${idle.heapMb} | ${idle.pendingMax} |`);
  console.log(`| ${BACKLOG.toLocaleString()} waiting, draining at ${Math.round(drained / SECONDS)}/s | ${loaded.rssMb} | ${loaded.heapMb} | ${loaded.pendingMax} |`);
} finally {
  await aviary?.close();
  await sim.close();
  await dropBenchDatabase(db.name);
}
