// Email over SMTP (issue 13). `npm run bench -- --only email-out` / `--only email-in`
//
//   --emails N       mails per measured run (default 10000 out, 5000 in)
//   --pool N         SMTP connections: the channel's poolSize out, the sending client's pool in (default 10)
//
// email-out: Aviary (`aviary serve`: api + worker as one process, then as two) with an smtp channel to a
//   local sink (smtp-server in a process of its own, bench/smtp-sink.ts, keeping nothing). N POSTs of a 2 KB
//   html + text email (autocannon, 50 connections); the figure is emails from the first `accepted` to
//   the last `sent` (message_status_history), i.e. POST -> sent end to end with both running at once.
//   Same-run baselines: nodemailer's pool straight into the same sink (no Aviary: the SMTP ceiling on
//   this machine) and bare Fastify POST (bench/hello-world.ts).
// email-in: Aviary with --smtp-listen-port and a channel receiving at an address, a webhook
//   subscription to email.inbound pointing at a counting HTTP receiver in this process. N 10 KB mails
//   (text + html) sent through a nodemailer pool; the figure is mails from the first to the last one
//   stored (messages.created_at) and webhooks received. Baseline: the same client into a bare
//   smtp-server + mailparser in this process (parse and drop: the SMTP + parse ceiling).
//
// Throwaway databases aviary_bench_* on AVIARY_BENCH_DATABASE_URL (default local PostgreSQL).

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { startHelloWorld } from './hello-world.ts';
import { coresBetween, machineCoresBetween, snapshot } from './cpu.ts';
import { createBenchDatabase, dropBenchDatabase, postgresPids } from './pg.ts';
import { startSink, type Sink } from './smtp-sink.ts';
import { target, type ScenarioResult } from './scenario.ts';

const BIN = fileURLToPath(new URL('../bin/aviary.js', import.meta.url));
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

export interface EmailBenchOptions { emails?: number; pool?: number; log: (l: string) => void }

const filler = (n: number, seed: number) => {
  const words = ['order', 'shipped', 'invoice', 'account', 'thanks', 'support', 'delivery', 'receipt', 'update', 'service'];
  let s = '';
  for (let i = 0; s.length < n; i++) s += words[(i * 7 + seed) % words.length] + (i % 12 === 11 ? '.\n' : ' ');
  return s.slice(0, n);
};
/** About 2 KB: 1 KB html + 1 KB text. */
const outBody = (i: number) => ({
  type: 'html',
  html: { html: `<html><body><p>${filler(950, i)}</p></body></html>`, text: filler(1000, i + 1), metadata: { subject: `Your order ${i}` } },
});

function aviary(url: string, extra: string[]): { child: ChildProcess; out: () => string; ready: Promise<{ base: string; key: string; org: string; ws: string }> } {
  // EMAIL_BENCH_PROF=dir writes the server's V8 CPU profile there (summarise with bench/profile.ts).
  const prof = process.env.EMAIL_BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.EMAIL_BENCH_PROF] : [];
  const child = spawn(process.execPath, [...prof, BIN, 'serve', '--database-url', url, '--port', '0', '--rate-limit', 'false', '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  const ready = new Promise<{ base: string; key: string; org: string; ws: string }>((resolve, reject) => {
    const on = (d: Buffer) => {
      out += d.toString();
      const key = /access key\s+(avk_\S+)/.exec(out)?.[1];
      const base = /(http:\/\/127\.0\.0\.1:\d+)\/workspaces/.exec(out)?.[1];
      if (key && base) resolve({ base, key, org: /organization\s+([0-9a-f-]{36})/.exec(out)![1], ws: /workspace\s+([0-9a-f-]{36})/.exec(out)![1] });
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.on('exit', (c) => reject(new Error(`aviary exited ${c}: ${out.slice(-2000)}`)));
  });
  return { child, out: () => out, ready };
}

async function api(base: string, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, { method, headers: { authorization: `AccessKey ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => undefined);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json as any;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function cpuOf(pid: number): Promise<number> {
  const { readFileSync } = await import('node:fs');
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function helloBaseline(): Promise<number> {
  const hello = await startHelloWorld();
  const r = await autocannon({ url: `${hello.url}/hello`, connections: 50, duration: 3, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ receiver: { contacts: [{ identifierValue: 'a@example.com' }] }, body: outBody(1) }) } as any);
  await hello.app.close();
  return r.requests.average;
}

/** SIGTERM and wait for the graceful exit (which also writes a CPU profile), SIGKILL after 10 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function runEmailOut(o: EmailBenchOptions): Promise<ScenarioResult[]> {
  const N = o.emails ?? 10_000;
  const pool = o.pool ?? 10;
  const sink = await startSink();
  try {
    // Baseline: nodemailer's own pool into the sink, same mail, no Aviary.
    const direct = nodemailer.createTransport({ pool: true, maxConnections: pool, maxMessages: Infinity, host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true } as any);
    const b0 = Date.now();
    const M = Math.min(N, 5000);
    await Promise.all(Array.from({ length: M }, (_, i) => direct.sendMail({ from: 'news@aviary.test', to: `user${i}@example.com`, subject: `Your order ${i}`, html: outBody(i).html.html, text: outBody(i).html.text })));
    const directPerSec = M / ((Date.now() - b0) / 1000);
    direct.close();
    o.log(`email-out baseline: nodemailer pool (${pool}) -> sink ${directPerSec.toFixed(0)} emails/s`);
    const helloRps = await helloBaseline();
    o.log(`email-out baseline: bare Fastify POST ${helloRps.toFixed(0)} req/s`);
    const baselines = `baselines (same run): nodemailer pool of ${pool} straight into the sink ${directPerSec.toFixed(0)} emails/s; bare Fastify POST ${helloRps.toFixed(0)} req/s`;
    return [
      await measureOut(o, sink, N, pool, false, baselines),
      await measureOut(o, sink, N, pool, true, baselines),
    ];
  } finally {
    await sink.close();
  }
}

/**
 * One measured email-out run: `aviary serve` as one process (api + worker), or split into an api
 * process and a worker process on the same database (how a busier deployment runs it: the POSTs and
 * the sends no longer share one event loop).
 */
async function measureOut(o: EmailBenchOptions, sink: Sink, N: number, pool: number, split: boolean, baselines: string): Promise<ScenarioResult> {
  const db = await createBenchDatabase('mailout');
  const av = aviary(db.url, ['--dispatch-poll-ms', '50', ...(split ? ['--roles', 'api'] : [])]);
  let worker: ReturnType<typeof aviary> | undefined;
  const client = new pg.Client({ connectionString: db.url });
  const label = split ? 'api + worker processes' : 'one process';
  try {
    const { base, key, ws } = await av.ready;
    if (split) {
      worker = aviary(db.url, ['--dispatch-poll-ms', '50', '--roles', 'worker']);
      worker.ready.catch(() => {});
    }
    await client.connect();
    const ch = await api(base, key, 'POST', `/workspaces/${ws}/channels`, {
      name: 'bench mail', platform: 'email',
      connector: { type: 'smtp', config: { host: '127.0.0.1', port: sink.port, tls: 'none', poolSize: pool, from: { address: 'news@aviary.test', name: 'Bench' }, returnPath: 'bounce+{id}@aviary.test' } },
    });
    const path = `/workspaces/${ws}/channels/${ch.id}/messages`;
    const sentCount = async () => Number((await client.query(`select count(*) from messages where status = 'sent'`)).rows[0].count);
    const post = async (amount: number, offset: number) => {
      let i = offset;
      return autocannon({
        url: `${base}${path}`, connections: 50, amount, method: 'POST',
        headers: { authorization: `AccessKey ${key}`, 'content-type': 'application/json' },
        requests: [{ setupRequest: (req: any) => { const k = i++; return { ...req, body: JSON.stringify({ receiver: { contacts: [{ identifierValue: `user${k % 5000}@example.com` }] }, body: outBody(k), reference: `bench-${k}` }) }; } }],
      } as any);
    };
    // Warm-up: contacts created, the session's pool open, JIT.
    await post(2000, 0);
    await waitFor(async () => (await sentCount()) >= 2000, 120_000);
    await client.query(`truncate message_status_history`);
    const sink0 = await sink.count();
    const pids = [av.child.pid!, ...(worker ? [worker.child.pid!] : [])];
    const cpus0 = await Promise.all(pids.map(cpuOf));
    const pgPids = await postgresPids(db.name);
    const snap0 = snapshot([...pids, ...pgPids]);
    const t0 = Date.now();
    const r = await post(N, 2000);
    // The sink's count first: a count(*) over messages every 50 ms cost PostgreSQL ~90 µs of CPU a
    // mail in this run, taken from the machine Aviary is measured on. The rate itself comes from
    // the history's timestamps, so how often this polls does not change it.
    await waitFor(async () => (await sink.count()) - sink0 >= N - r.non2xx - r.errors, 600_000);
    await waitFor(async () => (await sentCount()) >= 2000 + N - r.non2xx - r.errors, 600_000);
    const wall = (Date.now() - t0) / 1000;
    const pgAll = [...new Set([...pgPids, ...(await postgresPids(db.name))])];
    const snap1 = snapshot([...pids, ...pgAll]);
    const perProcess = (await Promise.all(pids.map(cpuOf))).map((c, i) => c - cpus0[i]);
    const cpu = perProcess.reduce((a, b) => a + b, 0);
    const cores = `${(cpu / wall).toFixed(2)} cores${split ? ` (api ${(perProcess[0] / wall).toFixed(2)}, worker ${(perProcess[1] / wall).toFixed(2)})` : ''}`;
    const span = await client.query(`select extract(epoch from (max(at) filter (where status = 'sent') - min(at) filter (where status = 'accepted'))) as s,
      count(*) filter (where status = 'sent') as sent from message_status_history`);
    const lat = await client.query(`select percentile_cont(array[0.5, 0.99]) within group (order by extract(epoch from (s.at - a.at)) * 1000) as p
      from message_status_history a join message_status_history s on s.message_id = a.message_id and s.status = 'sent' where a.status = 'accepted'`);
    const seconds = Number(span.rows[0].s);
    const sent = Number(span.rows[0].sent);
    const perSec = sent / seconds;
    const received = (await sink.count()) - sink0;
    // CPU per mail over the whole measured window (POSTs, sends, and the wait for the last one).
    const msPerMail = (cores: number) => ((cores * wall * 1000) / N).toFixed(3);
    const split_ = `CPU ms/mail: Aviary ${msPerMail(coresBetween(snap0, snap1, pids))}, PostgreSQL ${msPerMail(coresBetween(snap0, snap1, pgAll))}, machine ${msPerMail(machineCoresBetween(snap0, snap1))}`;
    o.log(`email-out (${label}): ${sent} sent in ${seconds.toFixed(2)} s = ${perSec.toFixed(0)} emails/s (POST ${r.requests.average}/s, sink got ${received}, Aviary CPU ${cores}; ${split_})`);
    return {
      group: 'post', name: `email-out: POST -> sent over SMTP (2 KB html + text), ${label}`, store: 'postgres', settings: `${N} emails, channel poolSize ${pool}, 50 HTTP connections`,
      writer: { sent: N, ok: sent, failed: N - sent, wallSec: seconds, perSec, p50: Number(lat.rows[0].p[0]), p99: Number(lat.rows[0].p[1]) },
      targets: [target('>= 1,000 emails/s POST -> sent', Math.round(perSec), 1000, 'min')],
      check: { expected: N, rows: sent, ok: sent === N && received === N && r.non2xx === 0, detail: `sent ${sent}, sink received ${received}, POST non-2xx ${r.non2xx + r.errors}` },
      notes: [
        `${perSec.toFixed(0)} emails/s accepted -> sent (${seconds.toFixed(2)} s); POST ${r.requests.average} req/s while sending; accept -> sent p50 ${Number(lat.rows[0].p[0]).toFixed(0)} ms, p99 ${Number(lat.rows[0].p[1]).toFixed(0)} ms`,
        `Aviary ${label} ${cores} (of 2; PostgreSQL, sink and load generator share the rest); ${split_}`,
        baselines,
      ],
    };
  } finally {
    await client.end().catch(() => {});
    await Promise.all([stop(av.child), ...(worker ? [stop(worker.child)] : [])]);
    await dropBenchDatabase(db.name);
  }
}

function inboundMail(i: number) {
  return { from: `customer${i % 2000}@example.org`, to: 'support@aviary.test', subject: `Question ${i}`, text: filler(4000, i), html: `<html><body><p>${filler(5800, i + 3)}</p></body></html>` };
}

/** The mail as raw MIME (multipart/alternative, 7bit lines under 100 chars), built once: the load generator only sends. */
function inboundRaw(i: number): { envelope: { from: string; to: string[] }; raw: string } {
  const m = inboundMail(i);
  const wrap = (t: string) => t.replace(/(.{1,90})(\s|$)/g, '$1\r\n');
  const raw = [
    `From: ${m.from}`, `To: ${m.to}`, `Subject: ${m.subject}`, `Message-ID: <in-${i}-${Date.now()}@example.org>`, 'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"', '', '--b1', 'Content-Type: text/plain; charset=utf-8', '', wrap(m.text),
    '--b1', 'Content-Type: text/html; charset=utf-8', '', wrap(m.html), '--b1--', '',
  ].join('\r\n');
  return { envelope: { from: m.from, to: [m.to] }, raw };
}

async function sendAll(port: number, n: number, pool: number, offset = 0): Promise<number> {
  const c = nodemailer.createTransport({ pool: true, maxConnections: pool, maxMessages: Infinity, host: '127.0.0.1', port, secure: false, ignoreTLS: true } as any);
  const mails = Array.from({ length: n }, (_, k) => inboundRaw(offset + k));
  const t0 = Date.now();
  let next = offset;
  let failed = 0;
  // A bounded number in flight (nodemailer queues the rest in memory otherwise).
  await Promise.all(Array.from({ length: pool * 4 }, async () => {
    while (next < offset + n) {
      const i = next++;
      await c.sendMail(mails[i - offset]).catch(() => { failed++; });
    }
  }));
  c.close();
  if (failed) throw new Error(`${failed} inbound mails refused`);
  return (Date.now() - t0) / 1000;
}

export async function runEmailIn(o: EmailBenchOptions): Promise<ScenarioResult[]> {
  const N = o.emails ?? 5000;
  const pool = o.pool ?? 10;
  const size = Buffer.byteLength(inboundRaw(1).raw);
  // Baseline: SMTP + mailparser without Aviary.
  let parsed = 0;
  const bare = new SMTPServer({
    authOptional: true, logger: false, disabledCommands: ['STARTTLS', 'AUTH'],
    onData(stream, _s, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => simpleParser(Buffer.concat(chunks), { skipImageLinks: true, skipTextToHtml: true }).then(() => { parsed++; cb(); }, cb));
    },
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
  const bareSec = await sendAll((bare.server.address() as AddressInfo).port, Math.min(N, 3000), pool);
  const barePerSec = Math.min(N, 3000) / bareSec;
  await new Promise<void>((r) => bare.close(() => r()));
  o.log(`email-in baseline: nodemailer -> smtp-server + mailparser ${barePerSec.toFixed(0)} mails/s (parsed ${parsed})`);

  let hooks = 0;
  const receiver = http.createServer((req, res) => { req.resume(); req.on('end', () => { hooks++; res.end('ok'); }); });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const db = await createBenchDatabase('mailin');
  const smtpPort = await new Promise<number>((resolve) => {
    const probe = http.createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const av = aviary(db.url, ['--smtp-listen-port', String(smtpPort), '--dispatch-poll-ms', '50']);
  const client = new pg.Client({ connectionString: db.url });
  try {
    const { base, key, org, ws } = await av.ready;
    await client.connect();
    await api(base, key, 'POST', `/organizations/${org}/workspaces/${ws}/webhook-subscriptions`, { service: 'channels', event: 'email.inbound', url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` });
    await api(base, key, 'POST', `/workspaces/${ws}/channels`, {
      name: 'bench inbox', platform: 'email',
      connector: { type: 'smtp', config: { host: '127.0.0.1', port: 25, tls: 'none', from: { address: 'support@aviary.test' }, inbound: { addresses: ['support@aviary.test'] } } },
    });
    const stored = async () => Number((await client.query(`select count(*) from messages where direction = 'incoming'`)).rows[0].count);
    // The listener opens with the channel's session, at the dispatcher's next sweep (5 s).
    await waitFor(async () => { try { await sendAll(smtpPort, 1, 1, 0); return true; } catch { return false; } }, 30_000);
    await sendAll(smtpPort, 1000, pool, 1); // warm-up
    await waitFor(async () => (await stored()) >= 1001 && hooks >= 1001, 120_000);
    const hooks0 = hooks;
    const cpu0 = await cpuOf(av.child.pid!);
    const t0 = new Date();
    const sendSec = await sendAll(smtpPort, N, pool, 1001);
    await waitFor(async () => (await stored()) >= 1001 + N, 600_000);
    const storedAt = Date.now();
    await waitFor(async () => hooks - hooks0 >= N, 600_000);
    const wall = (Date.now() - t0.getTime()) / 1000;
    const cpu = (await cpuOf(av.child.pid!)) - cpu0;
    // Until the last one was stored, by the clock (polled every 50 ms): an incoming message's
    // created_at is when the listener received it, not when the events loop stored it.
    const span = await client.query(`select count(*) as n from messages where direction = 'incoming' and created_at >= $1`, [t0]);
    const seconds = (storedAt - t0.getTime()) / 1000;
    const perSec = Number(span.rows[0].n) / seconds;
    const hookSec = (Date.now() - t0.getTime()) / 1000;
    const mediaRows = Number((await client.query(`select count(*) from media`)).rows[0].count);
    o.log(`email-in: ${span.rows[0].n} stored in ${seconds.toFixed(2)} s = ${perSec.toFixed(0)} mails/s; SMTP side ${(N / sendSec).toFixed(0)}/s; webhooks ${hooks - hooks0} by ${hookSec.toFixed(2)} s; Aviary CPU ${(cpu / wall).toFixed(2)} cores`);
    return [{
      group: 'post', name: 'email-in: SMTP -> stored email.inbound + webhook (10 KB mails)', store: 'postgres', settings: `${N} mails of ~${(size / 1024).toFixed(0)} KB, client pool ${pool}`,
      writer: { sent: N, ok: Number(span.rows[0].n), failed: N - Number(span.rows[0].n), wallSec: seconds, perSec, p50: NaN, p99: NaN },
      targets: [target('>= 500 mails/s parsed and stored', Math.round(perSec), 500, 'min'), target('>= 500 webhooks/s', Math.round(N / hookSec), 500, 'min')],
      check: { expected: N, rows: Number(span.rows[0].n), ok: Number(span.rows[0].n) === N && hooks - hooks0 >= N && mediaRows === 0, detail: `stored ${span.rows[0].n}, webhooks ${hooks - hooks0}` },
      notes: [
        `${perSec.toFixed(0)} mails/s from the first SMTP connection to the last message stored (${seconds.toFixed(2)} s); all ${N} webhooks received ${hookSec.toFixed(2)} s after the start (${(N / hookSec).toFixed(0)}/s)`,
        `Aviary process ${(cpu / wall).toFixed(2)} cores (of 2; PostgreSQL, the SMTP client and the webhook receiver share the rest)`,
        `baseline (same run): the same client into a bare smtp-server + mailparser, parse and drop: ${barePerSec.toFixed(0)} mails/s`,
      ],
    }];
  } finally {
    await client.end().catch(() => {});
    await stop(av.child);
    await dropBenchDatabase(db.name);
    receiver.close();
  }
}
