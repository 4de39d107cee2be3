import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { Aviary } from '../src/app.ts';
import { startSmsc, type SmscSimulator } from '../src/smsc/simulator.ts';
import { freshPostgresDatabase, startProcess } from './support/harness.ts';

// Where a channel's connector session lives when several worker processes share one PostgreSQL:
// one per process by default, or one in the whole cluster (`settings.sessionScope: "cluster"`, an
// SMSC that grants one bind), held under a lease that passes to another process when its holder
// stops. Each Aviary here has its own pool and dispatcher, as separate processes would.

const skip = !process.env.AVIARY_TEST_DATABASE_URL && 'needs PostgreSQL';

describe('connector sessions across processes (postgres)', { skip }, () => {
  let pgdb: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let sim: SmscSimulator;
  let api: Aviary;
  let key: string;
  let ws: string;
  const workers: Aviary[] = [];
  const request = (method: string, path: string, body?: unknown) =>
    fetch(`${api.url}/workspaces/${ws}${path}`, {
      method,
      headers: { authorization: `AccessKey ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
  const channel = async (systemId: string, settings: Record<string, unknown>) => {
    const ch = await request('POST', '/channels', {
      name: systemId,
      platform: 'sms',
      settings,
      connector: { type: 'smpp', config: { host: '127.0.0.1', port: sim.port, systemId, password: 'secret' } },
    });
    assert.equal(ch.status, 201, JSON.stringify(ch.body));
    return ch.body.id as string;
  };
  const sendAll = async (channelId: string, n: number, from: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await request('POST', `/channels/${channelId}/messages`, { receiver: { contacts: [{ identifierValue: `+316123${String(from + i).padStart(5, '0')}` }] }, body: { type: 'text', text: { text: `m${i}` } } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      ids.push(r.body.id);
    }
    return ids;
  };
  const allDelivered = async (ids: string[], what: string) => {
    for (let i = 0; i < 200; i++) {
      const r = await sql<{ n: number }>`select count(*)::int as n from messages where id = any(${ids}::uuid[]) and status = 'delivered'`.execute(api.ctx.db);
      if (r.rows[0].n === ids.length) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    const r = await sql<{ status: string; n: number }>`select status, count(*)::int as n from messages where id = any(${ids}::uuid[]) group by status`.execute(api.ctx.db);
    const stuck = await sql<any>`select id, status, parts from messages where id = any(${ids}::uuid[]) and status <> 'delivered'`.execute(api.ctx.db);
    const parts = await sql<any>`select * from message_parts where message_id = any(${stuck.rows.map((x: any) => x.id)}::uuid[])`.execute(api.ctx.db);
    const events = await sql<any>`select kind, payload, due_at from connector_events`.execute(api.ctx.db);
    const refs = stuck.rows.flatMap((x: any) => (x.parts ?? []).map((p: any) => p.platformReference));
    const sims = sim.deliveries.filter((d: any) => JSON.stringify(d).includes(refs[0] ?? 'none')).map((d: any) => ({ answers: d.answers, systemId: d.systemId, kind: d.kind }));
    assert.fail(`${what}: not all delivered: ${JSON.stringify({ rows: r.rows, stuck: stuck.rows, parts: parts.rows, events: events.rows, sims })}`);
  };
  const bindsOf = (systemId: string) => sim.binds().filter((b) => b.systemId === systemId).length;

  before(async () => {
    pgdb = await freshPostgresDatabase();
    sim = await startSmsc();
    api = await startProcess(pgdb.url, { roles: ['api'] });
    key = api.bootstrap!.accessKey;
    ws = api.bootstrap!.workspace.id;
    for (let i = 0; i < 2; i++) workers.push(await startProcess(pgdb.url, { roles: ['worker'] }));
  });
  after(async () => {
    for (const w of workers) await w.close();
    await api.close();
    await sim.close();
    await pgdb.drop();
  });

  test('a bad sessionScope is a 422 naming the field', async () => {
    const r = await request('POST', '/channels', { name: 'x', platform: 'sms', settings: { sessionScope: 'everywhere' } });
    assert.equal(r.status, 422);
    assert.ok(r.body.details['.settings.sessionScope'], JSON.stringify(r.body));
  });

  test('cluster scope: one bind in the cluster, taken over by another process when its holder stops', async () => {
    const channelId = await channel('one-bind', { sessionScope: 'cluster' });
    await allDelivered(await sendAll(channelId, 20, 0), 'first');
    assert.equal(bindsOf('one-bind'), 1, 'one bind for the channel across both workers');
    const lease = await sql<{ owner: string }>`select owner from connector_sessions where channel_id = ${channelId}`.execute(api.ctx.db);
    assert.equal(lease.rows.length, 1);
    const holder = workers.find((w) => w.dispatcher!.id === lease.rows[0].owner)!;
    assert.ok(holder, 'a worker holds the lease');
    // The holder stops: it unbinds and drops the lease; the other takes the channel over.
    await holder.close();
    workers.splice(workers.indexOf(holder), 1);
    assert.equal(bindsOf('one-bind'), 0);
    await allDelivered(await sendAll(channelId, 10, 100), 'after the takeover');
    assert.equal(bindsOf('one-bind'), 1);
    const next = await sql<{ owner: string }>`select owner from connector_sessions where channel_id = ${channelId}`.execute(api.ctx.db);
    assert.equal(next.rows[0].owner, workers[0].dispatcher!.id);
  });

  test('process scope (the default): each worker process binds', async () => {
    workers.push(await startProcess(pgdb.url, { roles: ['worker'] }));
    await channel('per-process', {});
    // Receiving connectors open a session per active channel at every sweep (5 s), in each process.
    for (let i = 0; i < 150 && bindsOf('per-process') < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(bindsOf('per-process'), 2);
  });
});
