import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { openDatabase, type Db } from '../src/db/database.ts';
import { acceptMessages, resolveRecipients } from '../src/messages/accept-message.ts';
import { GenericPlanClient, PreparingClient } from '../src/db/prepared-statements.ts';
import { freshPostgresDatabase, startTestAviary } from './support/harness.ts';

// The client that runs parameterised statements as named prepared statements (src/db/prepared-statements.ts),
// against a real PostgreSQL: what its server session holds, and the one failure a schema change causes.

const skip = !process.env.AVIARY_TEST_DATABASE_URL && 'needs PostgreSQL (AVIARY_TEST_DATABASE_URL)';

describe('prepared statements (postgres)', { skip }, () => {
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let client: PreparingClient;
  const prepared = async () =>
    (await client.query('select name, statement from pg_prepared_statements where name like $1 order by name', ['aviary_%'])).rows as Array<{ name: string; statement: string }>;

  before(async () => {
    database = await freshPostgresDatabase();
    client = new PreparingClient({ connectionString: database.url });
    await client.connect();
    await client.query('create table t (id int primary key, a text)');
  });
  after(async () => {
    await client?.end();
    await database?.drop();
  });

  test('a statement with parameters is prepared once per connection and reused; one without is not prepared', async () => {
    await client.query('insert into t (id, a) values ($1, $2)', [1, 'one']);
    await client.query('insert into t (id, a) values ($1, $2)', [2, 'two']);
    await client.query('select count(*) from t');
    const rows = (await client.query('select a from t where id = $1', [2])).rows;
    assert.deepEqual(rows, [{ a: 'two' }]);
    const names = (await prepared()).map((p) => p.statement);
    assert.equal(names.filter((s) => s.startsWith('insert into t')).length, 1);
    assert.ok(names.includes('select a from t where id = $1'));
    assert.ok(!names.some((s) => s.startsWith('select count(*)')));
  });

  test('plans are made for every execution (force_custom_plan), not cached generic', async () => {
    assert.equal((await client.query('show plan_cache_mode')).rows[0].plan_cache_mode, 'force_custom_plan');
  });

  test("the claims' client keeps the index walk of a generic plan made while its table was small (a plain generic plan scans)", async () => {
    // A claim's shape: the rows to take, limited, joined to the table they update.
    await client.query('create table g (id int primary key, v int)');
    await client.query('insert into g select i, 0 from generate_series(1, 70) i');
    await client.query('analyze g');
    const text = 'update g set v = v + 1 from (select * from unnest($1::int[]) as d(id) limit 9) d where g.id = d.id';
    const planAfterGrowth = async (c: PreparingClient) => {
      await c.connect();
      try {
        await c.query(text, [[1, 2]]); // the generic plan is made here, with 70 rows
        await client.query('insert into g select i, 0 from generate_series(71, 20000) i');
        const { name } = (await c.query('select name from pg_prepared_statements where statement = $1', [text])).rows[0];
        return (await c.query(`explain execute ${name}('{1,2}')`)).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
      } finally {
        await client.query('delete from g where id > 70');
        await c.end();
      }
    };
    assert.match(await planAfterGrowth(new PreparingClient({ connectionString: database.url }, '-c plan_cache_mode=force_generic_plan')), /Seq Scan on g/);
    const claims = await planAfterGrowth(new GenericPlanClient({ connectionString: database.url }));
    assert.doesNotMatch(claims, /Seq Scan on g/);
    assert.match(claims, /Index Scan using g_pkey|Bitmap Index Scan on g_pkey/);
  });

  test('a table changed under a prepared `select *` fails that statement once, then the connection runs unprepared', async () => {
    const read = () => client.query('select * from t where id = $1', [1]);
    assert.deepEqual((await read()).rows, [{ id: 1, a: 'one' }]);
    await client.query('alter table t add column b text');
    await assert.rejects(read(), /cached plan must not change result type/);
    assert.deepEqual((await read()).rows, [{ id: 1, a: 'one', b: null }]);
  });

  test("openDatabase: the claims' and the accept's connections plan once, without sequential scans; the rest plan every execution", async () => {
    const opened = await openDatabase({ databaseUrl: database.url, memory: false, dataDir: '', pgPoolSize: 2 });
    try {
      const settings = async (db: typeof opened.db) =>
        (await sql<{ mode: string; seq: string }>`select current_setting('plan_cache_mode') as mode, current_setting('enable_seqscan') as seq`.execute(db)).rows[0];
      assert.deepEqual(await settings(opened.db), { mode: 'force_custom_plan', seq: 'on' });
      assert.deepEqual(await settings(opened.claims), { mode: 'force_generic_plan', seq: 'off' });
      assert.deepEqual(await settings(opened.accepts), { mode: 'force_generic_plan', seq: 'off' });
    } finally {
      await opened.close();
    }
  });

  test("the accept's generic plan, made on empty tables, still finds contacts through an index once the workspace has 20,000", async () => {
    const t = await startTestAviary('postgres');
    const notices: string[] = [];
    const pool = new pg.Pool({ Client: GenericPlanClient, connectionString: t.databaseUrl, max: 1 });
    pool.on('connect', (c) => c.on('notice', (n) => notices.push(n.message ?? '')));
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) }) as unknown as Db;
    try {
      const channel = (await t.aviary.ctx.channels.get(t.workspaceId, t.channel('sms')))!;
      const accept = async (to: string) => {
        const request = { receiver: { contacts: [{ identifierValue: to }] }, body: { type: 'text', text: { text: 'x' } } } as any;
        await acceptMessages(db, t.aviary.ctx.outbox, [{ channel, request, recipients: await resolveRecipients(db, channel, request) }], new Date());
      };
      await accept('+31600000001'); // the plan is made here, with next to no contacts
      await sql`insert into contacts (workspace_id, id) select ${t.workspaceId}::uuid, gen_random_uuid() from generate_series(1, 20000)`.execute(db);
      await sql`insert into contact_identifiers (workspace_id, identifier_key, identifier_value, contact_id)
        select workspace_id, 'phonenumber', '+3170' || lpad(row_number() over ()::text, 7, '0'), id from contacts where workspace_id = ${t.workspaceId}`.execute(db);
      await sql`analyze contacts, contact_identifiers`.execute(db);
      // auto_explain hands each statement's plan to this client as a notice: the plan the accept runs.
      await sql`load 'auto_explain'`.execute(db);
      await sql`set auto_explain.log_min_duration = 0`.execute(db);
      await sql`set auto_explain.log_level = notice`.execute(db);
      await sql`set client_min_messages = notice`.execute(db);
      notices.length = 0;
      await accept('+31600000002');
      const plan = notices.find((n) => n.includes('contact_identifiers'));
      assert.ok(plan, `no plan seen: ${notices.join('\n')}`);
      assert.doesNotMatch(plan, /Seq Scan on contact_identifiers|contact_identifiers_contact/);
      assert.match(plan, /contact_identifiers_pkey|contact_identifiers_value/);
    } finally {
      await db.destroy();
      await t.close();
    }
  });
});
