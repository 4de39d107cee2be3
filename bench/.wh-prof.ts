import { spawn } from 'node:child_process';
import { sql } from 'kysely';
import pino from 'pino';
import { openDatabase } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { bootstrapIfEmpty } from '../src/bootstrap.ts';
import { createSubscription } from '../src/webhooks/subscriptions.ts';
import { WebhookWorker } from '../src/webhooks/worker.ts';
import { createBenchDatabase, dropBenchDatabase } from './pg.ts';
const N = Number(process.argv[2] ?? 50000);
const { name, url } = await createBenchDatabase('prof');
const db = await openDatabase({ databaseUrl: url, memory: false, dataDir: '', pgPoolSize: 10 });
const rc = spawn(process.execPath, ['--import', 'tsx', 'bench/webhooks-receiver.ts', '{"kind":"raw"}'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const port = await new Promise<number>((r) => rc.once('message', (m: any) => r(m.port)));
try {
  await migrate(db.db);
  const boot = (await bootstrapIfEmpty(db.db))!;
  const ws = boot.workspace.id;
  const sub = await createSubscription(db.db, ws, { organizationId: boot.organizationId, service: 'channels', event: 'sms.outbound', url: `http://127.0.0.1:${port}/x` });
  await sql`insert into webhook_deliveries (workspace_id, id, subscription_id, event, order_key, body, created_at, next_attempt_at, updated_at)
    select ${ws}::uuid, gen_random_uuid(), ${sub.id}::uuid, 'sms.outbound', gen_random_uuid(), repeat('x', 868), now(), now(), now() from generate_series(1, ${N}::int)`.execute(db.db);
  await sql`vacuum analyze webhook_deliveries`.execute(db.db);
  const w = new WebhookWorker({ db: db.db, log: pino({ level: 'warn' }) }, { timeoutMs: 15000, retryBaseMs: 10000, retryMaxDelayMs: 3600000, retryWindowMs: 28800000, concurrency: Number(process.env.C ?? 256), disableAfterMs: 0, logRetentionMs: 7*864e5, allowPrivateUrls: true, pollMs: 1000, recordConcurrency: 2 });
  const t0 = performance.now(); const cpu0 = process.cpuUsage();
  w.start();
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const s = await new Promise<any>((r) => { rc.once('message', r); rc.send('stats'); });
    if (s.unique >= N) break;
  }
  const ms = performance.now() - t0; const cpu = process.cpuUsage(cpu0);
  console.log(`${N} in ${(ms/1000).toFixed(2)} s = ${Math.round(N / ms * 1000)}/s; worker cpu ${((cpu.user+cpu.system)/1e6).toFixed(1)} s = ${((cpu.user+cpu.system)/N).toFixed(0)} us/delivery`);
  await w.stop();
} finally { rc.kill(); await db.close(); await dropBenchDatabase(name); }
