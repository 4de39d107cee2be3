import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { startTestAviary } from './support/harness.ts';

test('graceful close: requests in flight finish and what they accepted is stored', async () => {
  const t = await startTestAviary('pglite');
  const path = `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`;
  const body = { receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'text', text: { text: 'x' } } };
  const inflight = Array.from({ length: 50 }, () => t.request('POST', path, body).catch((err: Error) => ({ status: 0, body: err.message })));
  await new Promise((r) => setTimeout(r, 5));
  // Close the HTTP side and drain writes, but keep the store open to count.
  await t.aviary.server.close();
  await t.aviary.ctx.messageWriter.drain();
  const results = await Promise.all(inflight);
  const accepted = results.filter((r) => r.status === 202).length;
  const stored = (await sql<{ n: number }>`select count(*)::int as n from messages`.execute(t.aviary.ctx.db)).rows[0].n;
  assert.equal(stored, accepted, 'every 202 is stored and nothing else is');
  assert.ok(results.every((r) => r.status === 202 || r.status === 503 || r.status === 0), JSON.stringify(results.map((r) => r.status)));
  await t.close();
});

test('per-channel send rate: excess waits and is sent later, none dropped', async () => {
  const t = await startTestAviary('pglite');
  const ws = `/workspaces/${t.workspaceId}`;
  await t.request('PATCH', `${ws}/channels/${t.channel('sms')}`, { settings: { sendRatePerSecond: 10 } });
  const started = Date.now();
  const ids = await Promise.all(
    Array.from({ length: 25 }, (_, i) =>
      t.request('POST', `${ws}/channels/${t.channel('sms')}/messages`, { receiver: { contacts: [{ identifierValue: `+316123456${String(i).padStart(2, '0')}` }] }, body: { type: 'text', text: { text: 'x' } } }).then((r) => r.body.id as string),
    ),
  );
  for (const id of ids) await t.waitForStatus(id, ['sent', 'delivered'], 10_000);
  const elapsed = Date.now() - started;
  // A burst of 10, then 10 per second: 25 messages need about 1.5 s.
  assert.ok(elapsed >= 1300, `sent too fast for 10/s: ${elapsed} ms`);
  await t.close();
});
