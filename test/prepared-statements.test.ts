import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PreparingClient } from '../src/db/prepared-statements.ts';
import { freshPostgresDatabase } from './support/harness.ts';

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

  test('a table changed under a prepared `select *` fails that statement once, then the connection runs unprepared', async () => {
    const read = () => client.query('select * from t where id = $1', [1]);
    assert.deepEqual((await read()).rows, [{ id: 1, a: 'one' }]);
    await client.query('alter table t add column b text');
    await assert.rejects(read(), /cached plan must not change result type/);
    assert.deepEqual((await read()).rows, [{ id: 1, a: 'one', b: null }]);
  });
});
