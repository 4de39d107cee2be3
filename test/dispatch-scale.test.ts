import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { Aviary } from '../src/app.ts';
import { claimMessages } from '../src/dispatch/claim.ts';
import { freshPostgresDatabase, startProcess } from './support/harness.ts';

// Several processes on one PostgreSQL: they share the work, a crashed worker's messages are finished
// by another, and nothing is sent twice. Each Aviary here has its own pool and dispatcher, exactly as
// separate processes would; only the database connects them.

const skip = !process.env.AVIARY_TEST_DATABASE_URL && 'needs PostgreSQL';

describe('dispatch across processes (postgres)', { skip }, () => {
  let pgdb: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let api: Aviary;
  let key: string;
  let ws: string;
  let sms: string;
  const workers: Aviary[] = [];
  const post = (body: unknown) =>
    fetch(`${api.url}/workspaces/${ws}/channels/${sms}/messages`, {
      method: 'POST',
      headers: { authorization: `AccessKey ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
  const statuses = async () =>
    (await sql<{ status: string; n: number }>`select status, count(*)::int as n from messages group by status`.execute(api.ctx.db)).rows;

  before(async () => {
    pgdb = await freshPostgresDatabase();
    api = await startProcess(pgdb.url, { roles: ['api'] });
    key = api.bootstrap!.accessKey;
    ws = api.bootstrap!.workspace.id;
    sms = api.bootstrap!.channels.find((c) => c.platform === 'sms')!.id;
    await sql`update channels set connector_config = '{"receiptDelayMs": 5}'`.execute(api.ctx.db);
  });
  after(async () => {
    for (const w of workers) await w.close();
    await api.close();
    await pgdb.drop();
  });

  test('a claim takes no more of a channel than the room it is given, and none of one it skips', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await post({ receiver: { contacts: [{ identifierValue: `+3162234567${i}` }] }, body: { type: 'text', text: { text: 'x' } } })).body.id);
    const claim = (rooms: Parameters<typeof claimMessages>[5]) => claimMessages(api.ctx.db, 'room-test', new Date(), 100, 60_000, rooms);
    assert.equal((await claim({ skip: [sms], room: [], otherwise: 100 })).length, 0, 'a skipped channel gives nothing');
    assert.equal((await claim({ skip: [], room: [{ channelId: sms, n: 1 }], otherwise: 100 })).length, 1, 'its room');
    assert.equal((await claim({ skip: [], room: [], otherwise: 2 })).length, 2, 'a channel not listed gives `otherwise`');
    assert.equal((await claim(undefined)).length, 1, 'the rest');
    await sql`delete from message_status_history where message_id = any(${ids}::uuid[])`.execute(api.ctx.db);
    await sql`delete from messages where id = any(${ids}::uuid[])`.execute(api.ctx.db);
  });

  test('a claim starts what nothing it can see stands in the way of: processing, held, one history row', async () => {
    const send = async (to: string, extra: Record<string, unknown> = {}) =>
      (await post({ receiver: { contacts: [{ identifierValue: to }] }, body: { type: 'text', text: { text: 'x' } }, ...extra })).body.id as string;
    const supp = await fetch(`${api.url}/workspaces/${ws}/suppressions`, {
      method: 'POST',
      headers: { authorization: `AccessKey ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ identifierKey: 'phonenumber', identifierValue: '+31622345699' }),
    });
    assert.equal(supp.status, 201);
    const plain = await send('+31622345690');
    const later = await send('+31622345691', { scheduledFor: new Date(Date.now() + 3_600_000).toISOString() });
    const suppressed = await send('+31622345699');
    const history = async (id: string) =>
      (await sql<{ status: string }>`select status from message_status_history where message_id = ${id} order by at, status`.execute(api.ctx.db)).rows.map((r) => r.status);

    // A connector the claim is not told of starts nothing.
    const none = await claimMessages(api.ctx.db, 'start-test', new Date(), 100, 50, undefined, { connectorTypes: ['smpp'], until: new Date(Date.now() + 50) });
    assert.deepEqual(none.map((r) => [r.started, r.status]), [[false, 'accepted'], [false, 'accepted'], [false, 'accepted']]);
    await new Promise((r) => setTimeout(r, 60));

    const until = new Date(Date.now() + 30);
    const rows = await claimMessages(api.ctx.db, 'start-test', new Date(), 100, 30, undefined, { connectorTypes: ['sandbox'], until });
    const byId = new Map(rows.map((r) => [r.id, r]));
    assert.equal(rows.length, 3);
    assert.deepEqual([byId.get(plain)!.started, byId.get(plain)!.status, byId.get(plain)!.next_attempt_at?.getTime()], [true, 'processing', until.getTime()]);
    assert.deepEqual([byId.get(later)!.started, byId.get(later)!.status], [false, 'accepted'], 'scheduled ahead: the dispatcher schedules it');
    assert.deepEqual([byId.get(suppressed)!.started, byId.get(suppressed)!.status], [false, 'accepted'], 'suppressed: the dispatcher skips it');
    assert.deepEqual(await history(plain), ['accepted', 'processing']);

    // Its worker gone, the message is claimed again when its hold ends: still processing, no second history row.
    await new Promise((r) => setTimeout(r, 40));
    const again = await claimMessages(api.ctx.db, 'start-test-2', new Date(), 100, 60_000, { skip: [], room: [], otherwise: 100 }, { connectorTypes: ['sandbox'], until: new Date(Date.now() + 60_000) });
    const retried = again.find((r) => r.id === plain)!;
    assert.deepEqual([retried.started, retried.claimed_status, retried.status], [true, 'processing', 'processing']);
    assert.deepEqual(await history(plain), ['accepted', 'processing']);
    const ids = [plain, later, suppressed];
    await sql`delete from message_status_history where message_id = any(${ids}::uuid[])`.execute(api.ctx.db);
    await sql`delete from messages where id = any(${ids}::uuid[])`.execute(api.ctx.db);
    await sql`delete from suppressions`.execute(api.ctx.db);
  });

  test('a worker that claimed messages and died: another finishes them once its lease expires', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post({ receiver: { contacts: [{ identifierValue: `+3161234567${i}` }] }, body: { type: 'text', text: { text: 'x' } } })).body.id);
    // A worker claims them and is never heard from again.
    const claimed = await claimMessages(api.ctx.db, 'dead-worker', new Date(), 100, 600);
    assert.equal(claimed.length, 5);
    const w = await startProcess(pgdb.url, { roles: ['worker'] });
    workers.push(w);
    const started = Date.now();
    for (;;) {
      const rows = (await sql<{ n: number }>`select count(*)::int as n from messages where status = 'delivered'`.execute(api.ctx.db)).rows;
      if (rows[0].n === 5) break;
      assert.ok(Date.now() - started < 10_000, `not delivered: ${JSON.stringify(await statuses())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(Date.now() - started >= 400, 'nothing happened before the lease expired');
  });

  test('two worker processes share 400 messages; each is sent exactly once', async () => {
    workers.push(await startProcess(pgdb.url, { roles: ['worker'] }));
    const before = (await sql<{ n: number }>`select count(*)::int as n from messages`.execute(api.ctx.db)).rows[0].n;
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => post({ receiver: { contacts: [{ identifierValue: `+316${String(10_000_000 + i)}` }] }, body: { type: 'text', text: { text: `m${i}` } } })),
    );
    assert.ok(results.every((r) => r.status === 202));
    const started = Date.now();
    for (;;) {
      const rows = (await sql<{ n: number }>`select count(*)::int as n from messages where status = 'delivered'`.execute(api.ctx.db)).rows;
      if (rows[0].n === before + 400) break;
      assert.ok(Date.now() - started < 20_000, `stuck: ${JSON.stringify(await statuses())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const sentTwice = await sql<{ message_id: string }>`
      select message_id from message_status_history where status = 'sent' group by message_id having count(*) > 1`.execute(api.ctx.db);
    assert.deepEqual(sentTwice.rows, []);
    const owners = await sql<{ n: number }>`select count(distinct lease_owner)::int as n from messages where lease_owner is not null`.execute(api.ctx.db);
    assert.equal(owners.rows[0].n, 0, 'every lease was released');
  });
});
