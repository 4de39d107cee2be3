import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { MAX_SMS_RECEIVERS } from '../src/messages/platform-rules.ts';
import { birdConformance } from './support/bird-schema.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// An SMS to several receivers: each receiver submitted on its own, every segment of every receiver a
// part with its own platformReference, receipts per receiver, and the final status rule of
// docs/lifecycle.md ("Several SMS receivers"). The sandbox's magic numbers pick each receiver's fate.

const TWO_SEGMENTS = 'x'.repeat(200); // GSM-7: 153 characters per segment when split

for (const kind of storeKinds()) {
  describe(`SMS to several receivers (${kind})`, () => {
    let t: TestAviary;
    before(async () => {
      t = await startTestAviary(kind, { dispatchPollMs: 50, dispatchMaxAttempts: 3 });
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    const path = () => `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`;
    const send = (numbers: string[], text = 'hello') =>
      t.request('POST', path(), { receiver: { contacts: numbers.map((n) => ({ identifierValue: n })) }, body: { type: 'text', text: { text } } });
    const get = async (id: string) => (await t.request('GET', `${path()}/${id}`)).body;
    // Every message these tests see must be Bird's Message; checked at the end (skipped on a bare clone).
    const bird = birdConformance('Message');
    const birdValid = (m: unknown) => bird.collect('sms-receivers', m);

    test('every receiver is sent to; every segment of every receiver is a part; delivered when all are', async () => {
      const numbers = ['+31612345601', '+31612345602', '+31612345603'];
      const r = await send(numbers, TWO_SEGMENTS);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      birdValid(r.body);
      assert.deepEqual(r.body.receiver.contacts.map((c: { identifierValue: string }) => c.identifierValue), numbers);
      const m = await t.waitForStatus(r.body.id, 'delivered');
      birdValid(m);
      const parts = (m.parts as { platformReference: string }[]).map((p) => p.platformReference);
      assert.equal(parts.length, 6);
      assert.equal(new Set(parts).size, 6, 'each part has its own reference');
      assert.deepEqual(parts, [1, 2, 3].flatMap((r) => [`${m.id}:r${r}:1`, `${m.id}:r${r}:2`]));
      assert.equal(m.chargeableUnits, 6);
      assert.deepEqual(await t.history(r.body.id), ['accepted', 'processing', 'sent', 'delivered']);
      // Listing by receiver finds it under each number.
      for (const n of numbers) {
        const list = await t.request('GET', `${path()}?to=${encodeURIComponent(n)}`);
        assert.deepEqual(list.body.results.map((x: { id: string }) => x.id), [m.id]);
      }
    });

    test('one receiver failing delivery makes the message delivery_failed, with its failure, once every receiver is known', async () => {
      const r = await send(['+31612345601', '+31612341001', '+31612341009']); // delivered, unknown subscriber, delivered slowly
      await t.waitForStatus(r.body.id, 'sent');
      await new Promise((res) => setTimeout(res, 500)); // the first two receipts are in (100 ms), the slow one is not (2 s)
      assert.equal((await get(r.body.id)).status, 'sent', 'the message waits for every receiver');
      const m = await t.waitForStatus(r.body.id, ['delivered', 'delivery_failed']);
      birdValid(m);
      assert.equal(m.status, 'delivery_failed');
      assert.equal((m.failure as { code: number }).code, 15005);
      assert.equal(m.reason, 'details: unknown subscriber; reason: unknown_subscriber; code: 1');
      assert.equal(m.details, '1 of 3 receivers failed; first: unknown_subscriber');
      assert.equal((m.parts as unknown[]).length, 3);
      assert.deepEqual(await t.history(r.body.id), ['accepted', 'processing', 'sent', 'delivery_failed']);
      // The slow receiver's receipt came last: the message waited for it.
      const failed = await t.request('GET', `${path()}?status=delivery_failed&failureCode=15005`);
      assert.deepEqual(failed.body.results.map((x: { id: string }) => x.id), [m.id]);
    });

    test('a receiver refused at submission is not retried and counts as failed; the others are sent once', async () => {
      const r = await send(['+31612341004', '+31612345602']); // rejected by the provider, delivered
      const m = await t.waitForStatus(r.body.id, ['delivered', 'delivery_failed']);
      birdValid(m);
      assert.equal(m.status, 'delivery_failed');
      assert.equal((m.failure as { code: number }).code, 15002);
      assert.equal(m.details, '1 of 2 receivers failed; first: rejected');
      assert.deepEqual((m.parts as { platformReference: string }[]).map((p) => p.platformReference), [`${m.id}:r2:1`]);
      assert.deepEqual(await t.history(r.body.id), ['accepted', 'processing', 'sent', 'delivery_failed']);
    });

    test('when no receiver is accepted the message fails as a whole: sending_failed, retried only while every failure is transient', async () => {
      const rejected = await send(['+31612341004', '+31612341010']);
      const m = await t.waitForStatus(rejected.body.id, ['sending_failed', 'sent', 'delivered']);
      assert.equal(m.status, 'sending_failed');
      assert.equal((m.failure as { code: number }).code, 15002, 'the first receiver\'s failure');
      birdValid(m);
      const transient = await send(['+31612341002', '+31612341002']);
      const n = await t.waitForStatus(transient.body.id, ['sending_failed', 'sent']);
      assert.equal(n.status, 'sending_failed');
      assert.equal((n.failure as { code: number }).code, 15001);
      const row = await t.aviary.ctx.db.selectFrom('messages').select('attempts').where('id', '=', transient.body.id).executeTakeFirstOrThrow();
      assert.equal(row.attempts, 3, 'retried up to the attempt limit');
    });

    test('duplicate and stale receipts of one receiver change nothing; a receiver without a receipt keeps the message sent', async () => {
      const dup = await send(['+31612341007', '+31612341008']); // delivered twice; delivered then a stale sent
      await t.waitForStatus(dup.body.id, 'delivered');
      await new Promise((res) => setTimeout(res, 400)); // the second receipts are due 2 x delay later
      assert.deepEqual(await t.history(dup.body.id), ['accepted', 'processing', 'sent', 'delivered']);
      assert.equal((await get(dup.body.id)).status, 'delivered');

      const silent = await send(['+31612345601', '+31612341006']);
      await t.waitForStatus(silent.body.id, 'sent');
      await new Promise((res) => setTimeout(res, 500));
      const m = await get(silent.body.id);
      assert.equal(m.status, 'sent', 'one receiver delivered, the other never reported');
      birdValid(m);
    });

    test(`at most ${MAX_SMS_RECEIVERS} receivers; other non-email platforms still take one`, async () => {
      const many = Array.from({ length: MAX_SMS_RECEIVERS + 1 }, (_, i) => `+316123${String(i).padStart(5, '0')}`);
      const r = await send(many);
      assert.equal(r.status, 422);
      assert.deepEqual(r.body.details, { '.receiver.contacts': [`must contain at most ${MAX_SMS_RECEIVERS} contacts on SMS channels`] });
      const okay = await send(many.slice(0, MAX_SMS_RECEIVERS));
      assert.equal(okay.status, 202);
      const bad = await send(['+31612345601', 'not a number']);
      assert.equal(bad.status, 422);
      assert.deepEqual(Object.keys(bad.body.details), ['.receiver.contacts[1].identifierValue']);
      const wa = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${t.channel('whatsapp')}/messages`, {
        receiver: { contacts: [{ identifierValue: '+31612345601' }, { identifierValue: '+31612345602' }] },
        body: { type: 'text', text: { text: 'hi' } },
      });
      assert.equal(wa.status, 422);
      assert.deepEqual(wa.body.details, { '.receiver.contacts': ['must contain exactly one contact on WhatsApp channels'] });
      const m = await t.waitForStatus(okay.body.id, 'delivered', 20_000);
      assert.equal((m.parts as unknown[]).length, MAX_SMS_RECEIVERS);
    });

    bird.test(6);
  });
}
