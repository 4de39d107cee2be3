import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { isConnectionLost } from '../src/db/connection-loss.ts';
import { toApiError } from '../src/http/error-handler.ts';
import { startThrowawayPostgres, type ThrowawayPostgres } from './support/throwaway-postgres.ts';

// Losing PostgreSQL under load: real `aviary serve` processes (an API and a worker, so that an
// unhandled 'error' event would really kill one) on a throwaway cluster of this file's own, while the
// test sends messages. Once every backend is terminated mid-transaction (pg_terminate_backend), once
// the server is stopped and started again. The processes must stay up, answer a Bird-shaped,
// retryable 503 for what they could not do, store every 202, send each message once, listen for
// NOTIFY again, and say so on /health.

const BIN = new URL('../bin/aviary.js', import.meta.url).pathname;
const RECEIVER = '+31612345678'; // the sandbox delivers it
const WORKER_POLL_MS = 20_000; // long: a prompt send after reconnecting can only come from LISTEN/NOTIFY

const cluster = await startThrowawayPostgres();

interface Proc {
  child: ChildProcess;
  output: () => string;
  alive: () => boolean;
  url?: string;
}

const children: ChildProcess[] = [];

/** Resolves once the output shows it listening (and, for the first start, its welcome text: `ready`). */
function serve(databaseUrl: string, args: string[], ready?: RegExp): Promise<Proc> {
  const child = spawn(process.execPath, [BIN, 'serve', '--database-url', databaseUrl, '--port', '0', ...args], { env: { ...process.env } });
  children.push(child);
  let out = '';
  const proc: Proc = { child, output: () => out, alive: () => child.exitCode === null && child.signalCode === null };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/"msg":"aviary listening"/.test(out) && (!ready || ready.test(out))) {
        clearTimeout(timer);
        proc.url = /"url":"(http:[^"]+)"/.exec(out)?.[1];
        resolve(proc);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}:\n${out}`)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('which errors are a lost database, and the 503 they become', () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });
  const lost = [
    pgError('57P01', 'terminating connection due to administrator command'),
    pgError('57P03', 'the database system is starting up'),
    pgError('08006', 'connection failure'),
    pgError('25P03', 'terminating connection due to idle-in-transaction timeout'),
    pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
    new Error('Connection terminated unexpectedly'),
    new Error('Client has encountered a connection error and is not queryable'),
    new Error('could not write', { cause: pgError('ECONNRESET', 'read ECONNRESET') }),
  ];
  for (const err of lost) {
    assert.ok(isConnectionLost(err), err.message);
    const api = toApiError(err, 1024)!;
    assert.deepEqual([api.statusCode, api.code, api.headers], [503, 'ServiceUnavailable', { 'retry-after': '1' }], err.message);
  }
  const notLost = [pgError('23505', 'duplicate key value'), pgError('40P01', 'deadlock detected'), new Error('boom'), undefined, 'text'];
  for (const err of notLost) assert.equal(isConnectionLost(err), false, String(err));
  assert.equal(toApiError(pgError('23505', 'duplicate key value'), 1024), undefined, 'other database errors stay a 500');
  // A client that hung up mid-body is the HTTP layer's error, not the database's.
  const aborted = Object.assign(new Error('aborted'), { code: 'ECONNRESET', statusCode: 400 });
  assert.equal(toApiError(aborted, 1024)?.statusCode, 400);
});

describe('a lost PostgreSQL connection', { skip: typeof cluster === 'string' ? cluster : false }, () => {
  const pgc = cluster as ThrowawayPostgres;
  const dbUrl = pgc.url.replace(/\/postgres$/, '/aviary');
  let apiProc: Proc;
  let worker: Proc;
  let key: string;
  let workspace: string;
  let channel: string;
  let db: pg.Pool;
  let reference = 0;
  const delivered = new Set<string>(); // message ids whose `delivered` webhook arrived
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString());
      if (body.payload?.status === 'delivered') delivered.add(body.payload.id);
      res.end('ok');
    });
  });

  before(async () => {
    await pgc.query('create database aviary');
    db = new pg.Pool({ connectionString: dbUrl, max: 2 });
    db.on('error', () => {}); // stopped under it in the restart test
    // Both at once (start-up is most of this file's time); migrations are safe to race on PostgreSQL.
    [apiProc, worker] = await Promise.all([
      serve(dbUrl, ['--roles', 'api', '--rate-limit', 'false', '--log-level', 'info'], /Send a first message/),
      serve(
        dbUrl,
        ['--roles', 'worker', '--bootstrap', 'false', '--log-level', 'debug', '--dispatch-lease-ms', '5000', '--dispatch-poll-ms', String(WORKER_POLL_MS)]
          .concat(['--webhook-timeout-ms', '1000', '--webhook-retry-base-ms', '100']),
      ),
    ]);
    const out = apiProc.output();
    key = /access key\s+(avk_\S+)/.exec(out)![1];
    workspace = /workspace\s+(\S+)/.exec(out)![1];
    channel = /^\s+sms\s+(\S+)$/m.exec(out)![1];
    const organization = /organization\s+(\S+)/.exec(out)![1];
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const sub = await call('POST', `/organizations/${organization}/workspaces/${workspace}/webhook-subscriptions`, {
      service: 'channels',
      event: 'sms.outbound',
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      signingKey: 'outage-test-key',
      eventFilters: [{ key: 'messageStatus', value: 'delivered' }],
    });
    assert.equal(sub.status, 201, JSON.stringify(sub.body));
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    receiver.closeAllConnections();
    receiver.close();
    await db?.end().catch(() => {});
    await pgc.stop();
  });

  async function call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${apiProc.url}${path}`, {
      method,
      headers: { authorization: `AccessKey ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, retryAfter: res.headers.get('retry-after') };
  }

  const send = (ref: string) =>
    call('POST', `/workspaces/${workspace}/channels/${channel}/messages`, {
      receiver: { contacts: [{ identifierValue: RECEIVER }] },
      body: { type: 'text', text: { text: `outage ${ref}` } },
      reference: ref,
    });

  /** Sends messages from `clients` concurrent loops until stop() is called; every answer is kept. */
  function load(clients = 6) {
    const accepted = new Map<string, string>(); // reference -> message id
    const refused: { ref: string; status: number; body: any; retryAfter: string | null }[] = [];
    const broken: string[] = []; // no HTTP answer at all (the process is gone)
    let running = true;
    const loops = Array.from({ length: clients }, async () => {
      while (running) {
        const ref = `r${++reference}`;
        try {
          const r = await send(ref);
          if (r.status === 202) accepted.set(ref, r.body.id);
          else refused.push({ ref, ...r });
        } catch (err) {
          broken.push(`${ref}: ${(err as Error).message}`);
          await sleep(50);
        }
      }
    });
    return {
      accepted,
      refused,
      broken,
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  /** What every outage must leave behind, once the database is back. */
  function assertAlive(l: ReturnType<typeof load>) {
    assert.ok(apiProc.alive(), `the API process died:\n${apiProc.output().slice(-3000)}`);
    assert.ok(worker.alive(), `the worker process died:\n${worker.output().slice(-3000)}`);
    assert.deepEqual(l.broken, [], 'every request got an HTTP answer');
  }

  async function assertRecovered(l: ReturnType<typeof load>) {
    assertAlive(l);
    assert.ok(l.accepted.size > 20, `load was sent (${l.accepted.size} accepted)`);
    for (const r of l.refused) {
      assert.equal(r.status, 503, `only 503 for a lost database, got ${r.status} ${JSON.stringify(r.body)}`);
      assert.deepEqual(Object.keys(r.body).sort(), ['code', 'message']);
      assert.equal(r.body.code, 'ServiceUnavailable');
      assert.ok(Number(r.retryAfter) >= 1, 'Retry-After');
    }
    // Accepted means stored; refused means not: the lost transactions were rolled back whole.
    const refs = [...l.accepted.keys(), ...l.refused.map((r) => r.ref)];
    const { rows } = await db.query<{ reference: string; id: string; history: string[] }>(
      `select m.reference, m.id, array(select h.status from message_status_history h where h.workspace_id = m.workspace_id and h.message_id = m.id order by h.seq) as history
       from messages m where m.reference = any($1)`,
      [refs],
    );
    const stored = new Map(rows.map((r) => [r.reference, r]));
    for (const [ref, id] of l.accepted) assert.equal(stored.get(ref)?.id, id, `202 for ${ref} is stored`);
    for (const r of l.refused) assert.equal(stored.get(r.ref), undefined, `503 for ${r.ref} left nothing behind`);
    // Every accepted message reaches its final status, was sent once and recorded sent once.
    const ids = [...l.accepted.values()];
    // A message whose claim was cut off by the outage is held until its lease (5 s) runs out; the
    // worker is meant to wake then, and its 20 s poll is the backstop. Under heavy load the lease
    // wake-up has been seen to be missed (docs/architecture.md), so the bound is lease + poll + slack:
    // what this asserts is that every 202 reaches its final status, as the issue asks.
    const deadline = Date.now() + 5_000 + WORKER_POLL_MS + 10_000;
    let pending: string[] = ids;
    while (pending.length > 0 && Date.now() < deadline) {
      const r = await db.query<{ id: string }>(`select id from messages where id = any($1) and status <> 'delivered'`, [pending]);
      pending = r.rows.map((x) => x.id);
      if (pending.length > 0) await sleep(200);
    }
    if (pending.length > 0) {
      // Say where they stopped, so a failure here names the step that did not recover.
      const stuck = await db.query(
        `select m.id, m.status, m.next_attempt_at, m.lease_expires_at, m.attempts,
           (select count(*) from connector_events e where e.workspace_id = m.workspace_id and e.message_id = m.id) as events
         from messages m where m.id = any($1)`,
        [pending],
      );
      const workerLog = worker
        .output()
        .split('\n')
        .filter((l) => /"level":(40|50)|claim|backing off|listening/.test(l))
        .slice(-40)
        .join('\n');
      assert.fail(`every accepted message is delivered (${pending.length} of ${ids.length} not): ${JSON.stringify(stuck.rows)} at ${new Date().toISOString()}\nworker:\n${workerLog}`);
    }
    const final = await db.query<{ id: string; history: string[] }>(
      `select m.id, array(select h.status from message_status_history h where h.workspace_id = m.workspace_id and h.message_id = m.id order by h.seq) as history
       from messages m where m.id = any($1)`,
      [ids],
    );
    for (const r of final.rows) assert.deepEqual(r.history, ['accepted', 'processing', 'sent', 'delivered'], `history of ${r.id}`);
    const sends = new Map<string, number>();
    for (const line of worker.output().split('\n')) {
      if (!line.includes('"sent to provider"')) continue;
      const id = JSON.parse(line).messageId as string;
      sends.set(id, (sends.get(id) ?? 0) + 1);
    }
    for (const id of ids) assert.equal(sends.get(id), 1, `${id} sent to the provider once`);
    // The webhook worker carried on too: every delivered message's webhook arrives (at least once).
    for (let i = 0; i < 100 && ids.some((id) => !delivered.has(id)); i++) await sleep(100);
    assert.deepEqual(ids.filter((id) => !delivered.has(id)), [], 'every delivered webhook arrived');
  }

  const health = async () => {
    const res = await fetch(`${apiProc.url}/health`);
    return { status: res.status, body: (await res.json()) as any };
  };

  test('terminating every backend mid-transaction: both processes stay up; lost requests get 503', async () => {
    const l = load();
    await sleep(500);
    // Hold a lock that the writes and claims wait for, so that backends are surely terminated in
    // the middle of their transactions; twice, so that the group commit's one-by-one retry is hit too.
    const locker = new pg.Client({ connectionString: dbUrl });
    await locker.connect();
    await locker.query('begin; lock table messages in share mode');
    const terminate = () => locker.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = 'aviary' and pid <> pg_backend_pid()`);
    for (let i = 0; i < 2; i++) {
      await sleep(300);
      await terminate();
    }
    await locker.query('commit');
    // A write whose connection was lost is retried (db/group-commit.ts splits a failed batch and
    // tries again) and may well succeed: lock and terminate again, a few times at most, until a
    // request has surely been lost and refused.
    for (let i = 0; i < 5 && l.refused.length === 0; i++) {
      await locker.query('begin; lock table messages in share mode');
      await sleep(300);
      await terminate();
      await sleep(300);
      await terminate();
      await locker.query('commit');
      await sleep(200);
    }
    // And a few times more without the lock, wherever the connections happen to be.
    for (let i = 0; i < 3; i++) {
      await sleep(250);
      await terminate();
    }
    await locker.end();
    await sleep(700);
    await l.stop();
    assertAlive(l);
    assert.ok(l.refused.length > 0, 'requests whose transaction was terminated were refused');
    assert.match(apiProc.output(), /postgres connection lost/);
    await assertRecovered(l);
  });

  test('restarting the server mid-load: 503 and /health down while it is down; LISTEN again after', async () => {
    assert.equal((await health()).status, 200);
    const l = load();
    await sleep(500);
    const whileDown: { status: number; body: any }[] = [];
    await pgc.restart({
      downMs: 1000,
      whileDown: async () => {
        await sleep(300);
        whileDown.push(await health());
      },
    });
    const up = Date.now();
    let h = await health();
    while (h.status !== 200 && Date.now() - up < 10_000) {
      await sleep(100);
      h = await health();
    }
    await sleep(700);
    await l.stop();
    assertAlive(l);
    assert.equal(whileDown[0].status, 503, JSON.stringify(whileDown[0].body));
    assert.equal(whileDown[0].body.databaseStatus, 'down');
    assert.equal(whileDown[0].body.code, 'ServiceUnavailable');
    assert.deepEqual({ status: h.status, databaseStatus: h.body.databaseStatus }, { status: 200, databaseStatus: 'up' });
    assert.ok(l.refused.length > 0, 'requests while the database was down were refused');
    await assertRecovered(l);

    // The worker is idle now and polls only every 20 s: a message sent at once proves that it
    // listens for NOTIFY again on a new connection.
    assert.match(worker.output(), /listening for work notifications again/);
    const sentAt = Date.now();
    const m = await send('after-restart');
    assert.equal(m.status, 202);
    let status = '';
    while (Date.now() - sentAt < 5000) {
      status = (await db.query<{ status: string }>('select status from messages where id = $1', [m.body.id])).rows[0].status;
      if (status !== 'accepted') break;
      await sleep(50);
    }
    assert.notEqual(status, 'accepted', 'woken by NOTIFY, not by its 20 s poll');
    assert.ok(Date.now() - sentAt < WORKER_POLL_MS / 4);
  });
});
