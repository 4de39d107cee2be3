import { sql } from 'kysely';
import { openDatabase } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { bootstrapIfEmpty } from '../src/bootstrap.ts';
import { createSubscription } from '../src/webhooks/subscriptions.ts';
import { createBenchDatabase, dropBenchDatabase } from './pg.ts';
const { name, url } = await createBenchDatabase('probe');
const db = await openDatabase({ databaseUrl: url, memory: false, dataDir: '', pgPoolSize: 4 });
try {
await migrate(db.db);
const boot = (await bootstrapIfEmpty(db.db))!;
const ws = boot.workspace.id;
const sub = await createSubscription(db.db, ws, { organizationId: boot.organizationId, service: 'channels', event: 'sms.outbound', url: 'http://127.0.0.1:1/x' });
await sql`insert into webhook_deliveries (workspace_id, id, subscription_id, event, order_key, body, created_at, next_attempt_at, updated_at)
  select ${ws}::uuid, gen_random_uuid(), ${sub.id}::uuid, 'sms.outbound', gen_random_uuid(), repeat('x', 868), now(), now(), now() from generate_series(1, 50000)`.execute(db.db);
await sql`vacuum analyze webhook_deliveries`.execute(db.db);
const now = new Date();
const r = await sql<any>`explain analyze with due as (
      select d.workspace_id, d.id, d.subscription_id from webhook_deliveries d
      where d.next_attempt_at <= ${now}
        and (d.order_key is null or not exists (
          select 1 from webhook_deliveries p
          where p.workspace_id = d.workspace_id and p.subscription_id = d.subscription_id and p.order_key = d.order_key
            and p.seq < d.seq and p.next_attempt_at is not null))
      order by d.next_attempt_at
      limit 20
      for update of d skip locked
    )
    select * from due`.execute(db.db);
console.log(r.rows.map((x: any) => x['QUERY PLAN']).join('\n'));
} finally { await db.close(); await dropBenchDatabase(name); }
