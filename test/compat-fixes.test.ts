import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// Compatibility fixes found by Bird clients and a black-box run (issue 10): an empty body declared as
// JSON, the `status` filter of message lists, and one channelId filter per webhook subscription.

for (const kind of storeKinds()) {
  describe(`compatibility fixes (${kind})`, () => {
    let t: TestAviary;
    before(async () => {
      t = await startTestAviary(kind, { dispatchPollMs: 50 });
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    const ws = () => `/workspaces/${t.workspaceId}`;
    const sms = () => `${ws()}/channels/${t.channel('sms')}`;
    const send = (to: string, extra: Record<string, unknown> = {}) =>
      t.request('POST', `${sms()}/messages`, { receiver: { contacts: [{ identifierValue: to }] }, body: { type: 'text', text: { text: 'hi' } }, ...extra });
    const json = { 'content-type': 'application/json' };

    test('DELETE and GET with Content-Type: application/json and an empty body are requests without a body', async () => {
      const later = await send('+31612345678', { scheduledFor: new Date(Date.now() + 3600_000).toISOString() });
      assert.equal(later.status, 202);
      const del = await t.request('DELETE', `${sms()}/messages/${later.body.id}`, '', json);
      assert.equal(del.status, 204, JSON.stringify(del.body));
      assert.equal((await t.request('GET', `${sms()}/messages/${later.body.id}`, undefined, json)).body.status, 'deleted');
      // With a charset parameter too, and on another resource.
      const channel = await t.request('POST', `${ws()}/channels`, { name: 'temp', platform: 'sms' });
      const delChannel = await t.request('DELETE', `${ws()}/channels/${channel.body.id}`, '', { 'content-type': 'application/json; charset=utf-8' });
      assert.equal(delChannel.status, 204, JSON.stringify(delChannel.body));
      // An unknown message is still a 404, not a body error.
      const missing = await t.request('DELETE', `${sms()}/messages/00000000-0000-4000-8000-000000000000`, '', json);
      assert.equal(missing.status, 404);
      // A body that is there is still parsed, and still checked.
      assert.equal((await t.request('DELETE', `${sms()}/messages/${later.body.id}`, '{"x": ', json)).body.code, 'BadRequest');
      assert.equal((await t.request('POST', `${sms()}/messages`, '{"__proto__": {"x": 1}}', json)).status, 400);
      // A send with no body is still refused, with the send's own message.
      const empty = await t.request('POST', `${sms()}/messages`, '', json);
      assert.equal(empty.status, 400);
      assert.deepEqual(empty.body, { code: 'BadRequest', message: 'A JSON request body is required' });
    });

    test('status filters channel and workspace message lists; repeated, bracketed and comma-separated values match any', async () => {
      const delivered = (await send('+31612345678')).body.id;
      const failed = (await send('+31612341001')).body.id; // sandbox: unknown subscriber -> delivery_failed
      const scheduled = (await send('+31612345679', { scheduledFor: new Date(Date.now() + 3600_000).toISOString() })).body.id;
      await t.waitForStatus(delivered, 'delivered');
      await t.waitForStatus(failed, 'delivery_failed');
      const ids = async (path: string) => {
        const r = await t.request('GET', path);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return (r.body.results as { id: string; status: string }[]).map((m) => m.id).sort();
      };
      for (const list of [`${sms()}/messages`, `${ws()}/messages`]) {
        assert.deepEqual(await ids(`${list}?status=delivered`), [delivered]);
        assert.deepEqual(await ids(`${list}?status=delivered&status=delivery_failed`), [delivered, failed].sort());
        assert.deepEqual(await ids(`${list}?status[]=scheduled&status[]=delivery_failed`), [failed, scheduled].sort());
        assert.deepEqual(await ids(`${list}?status=delivered,scheduled`), [delivered, scheduled].sort());
        assert.deepEqual(await ids(`${list}?status=sent`), []);
        assert.deepEqual(await ids(`${list}?status=delivered&direction=incoming`), []);
        assert.deepEqual(await ids(list), [delivered, failed, scheduled].sort());
        const bad = await t.request('GET', `${list}?status=delivered&status=delivred`);
        assert.equal(bad.status, 400);
        assert.equal(bad.body.code, 'InvalidParameters');
        assert.deepEqual(Object.keys(bad.body.details), ['status']);
        assert.match(bad.body.details.status[0], /"delivred" is not one of accepted, rejected/);
      }
      // Pages of a filtered list hold only matching messages.
      const first = await t.request('GET', `${ws()}/messages?status=delivered&status=delivery_failed&limit=1`);
      assert.equal(first.body.results.length, 1);
      const second = await t.request('GET', `${ws()}/messages?status=delivered&status=delivery_failed&limit=1&pageToken=${encodeURIComponent(first.body.nextPageToken)}`);
      assert.equal(second.body.results.length, 1);
      assert.deepEqual([first.body.results[0].id, second.body.results[0].id].sort(), [delivered, failed].sort());
      assert.equal(second.body.nextPageToken ?? null, null);
    });

    test('a webhook subscription with two channelId filters is a 422, on create and on update, on both path forms', async () => {
      const ch = t.channel('sms');
      const url = 'https://example.com/hook';
      for (const base of [`/organizations/${t.organizationId}${ws()}`, ws()]) {
        for (const filters of [
          [{ key: 'channelId', value: ch }, { key: 'channelId', value: ch }],
          [{ key: 'channelId', value: ch }, { key: 'channelId', value: ch.toUpperCase() }],
          [{ key: 'channelId', value: ch }, { key: 'channelId', value: t.channel('whatsapp') }],
        ]) {
          const r = await t.request('POST', `${base}/webhook-subscriptions`, { service: 'channels', event: 'sms.outbound', url, eventFilters: filters });
          assert.equal(r.status, 422, JSON.stringify(r.body));
          assert.deepEqual(r.body, {
            code: 'InvalidPayload',
            message: 'One or more fields provided in the request body are malformed',
            details: { '.eventFilters': ['may hold at most one channelId filter'] },
          });
        }
        const one = await t.request('POST', `${base}/webhook-subscriptions`, { service: 'channels', event: 'sms.outbound', url, eventFilters: [{ key: 'channelId', value: ch }] });
        assert.equal(one.status, 201);
        const patch = await t.request('PATCH', `${base}/webhook-subscriptions/${one.body.id}`, { eventFilters: [{ key: 'channelId', value: ch }, { key: 'channelId', value: ch }] });
        assert.equal(patch.status, 422);
        assert.deepEqual(patch.body.details, { '.eventFilters': ['may hold at most one channelId filter'] });
      }
      assert.equal((await t.request('GET', `${ws()}/webhook-subscriptions`)).body.results.length, 2);
    });
  });
}
