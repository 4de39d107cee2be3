import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';
import { birdConformance } from './support/bird-schema.ts';

const text = (to: string, extra: Record<string, unknown> = {}) => ({
  receiver: { contacts: [{ identifierValue: to }] },
  body: { type: 'text', text: { text: 'hi' } },
  ...extra,
});

for (const kind of storeKinds()) {
  describe(`batch send and cancel (${kind})`, () => {
    const bird = birdConformance('Message');
    let t: TestAviary;
    let base: string;
    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(async () => {
      await t.reset();
      base = `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}`;
    });

    test('a batch is accepted whole; invalid entries become rejected messages with an 11xxx failure', async () => {
      const res = await t.request('POST', `${base}/batch/messages`, {
        messageRequests: [text('+31612345601'), text('0612'), { receiver: 'x' }, text('+31612345602', { reference: 'r2' })],
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const { batchId, results } = res.body;
      assert.match(batchId, /^[0-9a-f-]{36}$/);
      assert.deepEqual(results.map((m: any) => m.status), ['accepted', 'rejected', 'rejected', 'accepted']);
      for (const m of results) assert.equal(m.batchId, batchId);
      bird.collect('a batch is accepted whole; invalid entries', ...results);
      assert.equal(results[1].failure.code, 11002);
      assert.ok(results[1].details.includes('E.164'), results[1].details);
      const listed = await t.request('GET', `/workspaces/${t.workspaceId}/messages?batchId=${batchId}&limit=100`);
      assert.equal(listed.body.results.length, 4);
      // Its accepted sibling went through the dispatcher; the rejected ones were never claimed.
      await t.waitForStatus(results[0].id, 'delivered');
      for (const r of [results[1], results[2]]) {
        assert.equal((await t.waitForQuiet(r.id)).status, 'rejected', 'rejected messages are never dispatched');
        assert.deepEqual(await t.history(r.id), ['rejected']);
      }
    });

    test('batch envelope rules: 1 to 100 requests, nothing else', async () => {
      assert.equal((await t.request('POST', `${base}/batch/messages`, { messageRequests: [] })).status, 422);
      assert.equal((await t.request('POST', `${base}/batch/messages`, { messageRequests: Array.from({ length: 101 }, () => text('+31612345678')) })).status, 422);
      assert.equal((await t.request('POST', `${base}/batch/messages`, { messageRequests: [text('+31612345678')], extra: 1 })).status, 422);
      assert.equal((await t.request('POST', `${base}/batch/messages`, [text('+31612345678')])).status, 422);
    });

    test('DELETE cancels a scheduled message; 409 once sent; 404 when unknown', async () => {
      const later = (await t.request('POST', `${base}/messages`, text('+31612345678', { scheduledFor: new Date(Date.now() + 3600_000).toISOString() }))).body;
      await t.waitForStatus(later.id, 'scheduled');
      assert.equal((await t.request('DELETE', `${base}/messages/${later.id}`)).status, 204);
      // The DELETE is the change: it is visible at once, and nothing is left to send.
      assert.equal((await t.request('GET', `${base}/messages/${later.id}`)).body.status, 'deleted');
      assert.equal((await t.waitForQuiet(later.id)).status, 'deleted');
      assert.deepEqual(await t.history(later.id), ['accepted', 'scheduled', 'deleted']);
      const again = await t.request('DELETE', `${base}/messages/${later.id}`);
      assert.equal(again.status, 409);

      const now = (await t.request('POST', `${base}/messages`, text('+31612345678'))).body;
      await t.waitForStatus(now.id, 'delivered');
      const late = await t.request('DELETE', `${base}/messages/${now.id}`);
      assert.equal(late.status, 409);
      assert.match(late.body.message, /delivered/);
      assert.equal((await t.request('DELETE', `${base}/messages/00000000-0000-4000-8000-000000000000`)).status, 404);
    });
    bird.test(4);
  });
}
