import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// The sandbox's magic receivers that test/dispatch.test.ts does not already send end to end: expired,
// slow and throttled (the dispatcher's Retry-After path). Timings are read from the status history the
// dispatcher writes, not from the test's clock, so a loaded machine makes them later, never wrong.

const text = (to: string) => ({ receiver: { contacts: [{ identifierValue: to }] }, body: { type: 'text', text: { text: 'hello' } } });

for (const kind of storeKinds()) {
  describe(`sandbox scenarios end to end (${kind})`, () => {
    let t: TestAviary;
    const send = async (to: string) => {
      const res = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`, text(to));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body;
    };
    const timeline = async (messageId: string) => {
      const rows = await t.aviary.ctx.db
        .selectFrom('message_status_history')
        .select(['status', 'at'])
        .where('workspace_id', '=', t.workspaceId)
        .where('message_id', '=', messageId)
        .orderBy('seq')
        .execute();
      return Object.fromEntries(rows.map((r) => [r.status, new Date(r.at).getTime()]));
    };
    const setReceiptDelay = async (ms: number) => {
      const res = await t.request('PATCH', `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}`, { connector: { config: { receiptDelayMs: ms } } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    test('expired (…1005): sent, then delivery_failed 15004 from the provider', async () => {
      const m = await send('+31612341005');
      const done = await t.waitForQuiet(m.id);
      assert.equal(done.status, 'delivery_failed');
      assert.deepEqual(done.failure, { code: 15004, description: 'Expired before delivery', source: { name: 'sms-messagebird', code: '3' } });
      assert.equal(done.reason, 'expired');
      assert.deepEqual(await t.history(m.id), ['accepted', 'processing', 'sent', 'delivery_failed']);
      const listed = await t.request('GET', `/workspaces/${t.workspaceId}/messages?failureCode=15004`);
      assert.deepEqual(listed.body.results.map((r: any) => r.id), [m.id]);
    });

    test('with no receipt delay the receipt is applied in the transaction that records the send', async () => {
      // Due at once, it is not written to connector_events for the events loop (outcomes.ts dueNow).
      await setReceiptDelay(0);
      const ids = await Promise.all(['+31612340001', '+31612340002', '+31612340003'].map(async (to) => (await send(to)).id as string));
      for (const id of ids) assert.equal((await t.waitForQuiet(id)).status, 'delivered');
      const rows = await t.aviary.ctx.db
        .selectFrom('message_status_history')
        .select(['message_id', 'status', sql<string>`xmin::text`.as('tx')])
        .where('workspace_id', '=', t.workspaceId)
        .where('message_id', 'in', ids)
        .where('status', 'in', ['sent', 'delivered'])
        .execute();
      for (const id of ids) {
        assert.deepEqual(await t.history(id), ['accepted', 'processing', 'sent', 'delivered']);
        const tx = new Set(rows.filter((r) => r.message_id === id).map((r) => r.tx));
        assert.equal(tx.size, 1, `sent and delivered of ${id} in ${[...tx].join(', ')}`);
      }
    });

    test('slow (…1009): delivered 20 times the channel receipt delay after it was sent', async () => {
      await setReceiptDelay(50);
      const m = await send('+31612341009');
      const first = await t.waitForStatus(m.id, ['sent', 'delivered']);
      assert.equal(first.status, 'sent', 'not delivered at the ordinary receipt delay');
      const done = await t.waitForQuiet(m.id);
      assert.equal(done.status, 'delivered');
      assert.deepEqual(await t.history(m.id), ['accepted', 'processing', 'sent', 'delivered']);
      const at = await timeline(m.id);
      assert.ok(at.delivered - at.sent >= 20 * 50, `delivered ${at.delivered - at.sent} ms after sent`);
    });

    test('throttled (…1011): the retry waits for the provider\'s retry-after (1 s), not the backoff, then delivered', async () => {
      // The harness's retry backoff is 1 ms: only the connector's hint can make the second attempt wait.
      const m = await send('+31612341011');
      const done = await t.waitForQuiet(m.id);
      assert.equal(done.status, 'delivered');
      const row = await t.aviary.ctx.db.selectFrom('messages').select('attempts').where('id', '=', m.id).executeTakeFirstOrThrow();
      assert.equal(row.attempts, 2, 'one throttled attempt, one that went through');
      assert.deepEqual(await t.history(m.id), ['accepted', 'processing', 'sent', 'delivered'], 'a retry is not a status change');
      const at = await timeline(m.id);
      // `processing` is written when the first attempt is claimed; `sent` after the second attempt,
      // which cannot be claimed before first-attempt-end + 1000 ms.
      assert.ok(at.sent - at.processing >= 1000, `retried ${at.sent - at.processing} ms after the first attempt`);
    });
  });
}
