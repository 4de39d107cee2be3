import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';
import { birdConformance } from './support/bird-schema.ts';

const sms = (to: string, text = 'hello', extra: Record<string, unknown> = {}) => ({
  receiver: { contacts: [{ identifierValue: to }] },
  body: { type: 'text', text: { text } },
  ...extra,
});

for (const kind of storeKinds()) {
  describe(`messages API (${kind})`, () => {
    const bird = birdConformance('Message');
    let t: TestAviary;
    const send = (platform: string, body: unknown) => t.request('POST', `/workspaces/${t.workspaceId}/channels/${t.channel(platform)}/messages`, body);
    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    test('POST answers 202 with the full message, durable and Bird-valid', async () => {
      const res = await send('sms', sms('+31612345678', 'Hi there', { reference: 'order-1', tags: ['Promo', 'spring sale'] }));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const m = res.body;
      assert.equal(m.status, 'accepted');
      assert.equal(m.direction, 'outgoing');
      assert.equal(m.channelId, t.channel('sms'));
      assert.equal(m.reference, 'order-1');
      assert.deepEqual(m.tags, ['promo', 'spring sale']);
      const channel = t.boot.channels.find((c) => c.platform === 'sms')!;
      assert.equal(m.sender.connector.id, channel.connectorId);
      assert.equal(m.sender.connector.identifierValue, channel.senderIdentifier);
      const contact = m.receiver.contacts[0];
      assert.equal(contact.identifierKey, 'phonenumber');
      assert.equal(contact.identifierValue, '+31612345678');
      assert.equal(contact.countryCode, 'NL');
      assert.match(contact.id, /^[0-9a-f-]{36}$/);
      bird.collect('POST answers 202 with the full message', m);

      const got = await t.request('GET', `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages/${m.id}`);
      assert.equal(got.status, 200);
      // The dispatcher may already have moved it on; everything but the lifecycle fields is as accepted.
      const stable = ({ status, lastStatusAt, updatedAt, parts, chargeableUnits, ...rest }: any) => rest;
      assert.deepEqual(stable(got.body), stable(m));

      // The contact exists and is reused by the next message to the same number.
      const c = await t.request('GET', `/workspaces/${t.workspaceId}/contacts/${contact.id}`);
      assert.equal(c.status, 200);
      assert.deepEqual(c.body.featuredIdentifiers, [{ key: 'phonenumber', value: '+31612345678' }]);
      const again = await send('sms', sms('+31612345678'));
      assert.equal(again.body.receiver.contacts[0].id, contact.id);
    });

    test('concurrent sends to one new number create exactly one contact', async () => {
      const results = await Promise.all(Array.from({ length: 40 }, () => send('whatsapp', sms('+447700900123'))));
      assert.ok(results.every((r) => r.status === 202));
      const ids = new Set(results.map((r) => r.body.receiver.contacts[0].id));
      assert.equal(ids.size, 1);
      const list = await t.request('GET', `/workspaces/${t.workspaceId}/contacts?identifierValue=%2B447700900123`);
      assert.equal(list.body.results.length, 1);
    });

    test('a contact can be addressed by id', async () => {
      const first = await send('sms', sms('+31612345670'));
      const contactId = first.body.receiver.contacts[0].id;
      const byId = await send('sms', { receiver: { contacts: [{ id: contactId }] }, body: { type: 'text', text: { text: 'x' } } });
      assert.equal(byId.status, 202, JSON.stringify(byId.body));
      assert.equal(byId.body.receiver.contacts[0].identifierValue, '+31612345670');
      const unknown = await send('sms', { receiver: { contacts: [{ id: '00000000-0000-4000-8000-000000000000' }] }, body: { type: 'text', text: { text: 'x' } } });
      assert.equal(unknown.status, 422);
      assert.deepEqual(unknown.body.details, { '.receiver.contacts[0].id': ['contact not found'] });
    });

    test('email to several recipients keeps their types', async () => {
      const res = await send('email', {
        receiver: { contacts: [{ identifierValue: 'Ann@Example.com', type: 'to' }, { identifierValue: 'bob@example.com', type: 'cc' }] },
        body: { type: 'text', text: { text: 'Hello', metadata: { subject: 'Quarterly report' } } },
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.deepEqual(
        res.body.receiver.contacts.map((c: any) => [c.identifierKey, c.identifierValue, c.type]),
        [
          ['emailaddress', 'ann@example.com', 'to'],
          ['emailaddress', 'bob@example.com', 'cc'],
        ],
      );
      bird.collect('email to several recipients keeps their types', res.body);
    });

    test('validation failures are 422 with Bird details', async () => {
      const res = await send('sms', { receiver: { contacts: [{ identifierValue: '+31612345678', listId: 'x' }] }, body: { type: 'text', text: { text: 'x' } } });
      assert.equal(res.status, 422);
      assert.deepEqual(res.body, {
        code: 'InvalidPayload',
        message: 'One or more fields provided in the request body are malformed',
        details: { '.receiver.contacts[0]': ['property "listId" is unsupported'] },
      });
      const phone = await send('sms', sms('0612345678'));
      assert.equal(phone.status, 422);
      assert.ok(phone.body.details['.receiver.contacts[0].identifierValue']);
      const email = await send('email', { receiver: { contacts: [{ identifierValue: 'not-an-email' }] }, body: { type: 'text', text: { text: 'x', metadata: { subject: 's' } } } });
      assert.equal(email.status, 422);
    });

    test('a message to an inactive channel is 409 and stores nothing', async () => {
      const ch = t.channel('sms');
      await t.request('PATCH', `/workspaces/${t.workspaceId}/channels/${ch}`, { status: 'inactive' });
      const res = await send('sms', sms('+31612345678'));
      assert.equal(res.status, 409);
      assert.equal(res.body.code, 'ChannelInactive');
      const list = await t.request('GET', `/workspaces/${t.workspaceId}/messages`);
      assert.equal(list.body.results.length, 0);
    });

    test('list: newest first, keyset pages stable while new messages arrive, reverse', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await send('sms', sms(`+3161234567${i}`, `m${i}`))).body.id);
      const base = `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`;
      const p1 = await t.request('GET', `${base}?limit=3`);
      assert.equal(p1.status, 200);
      assert.deepEqual(p1.body.results.map((m: any) => m.id), ids.slice(4).reverse());
      assert.ok(p1.body.nextPageToken);
      await send('sms', sms('+31600000000', 'late arrival'));
      const p2 = await t.request('GET', `${base}?limit=3&pageToken=${encodeURIComponent(p1.body.nextPageToken)}`);
      assert.deepEqual(p2.body.results.map((m: any) => m.id), ids.slice(1, 4).reverse());
      const p3 = await t.request('GET', `${base}?limit=3&pageToken=${encodeURIComponent(p2.body.nextPageToken)}`);
      assert.deepEqual(p3.body.results.map((m: any) => m.id), [ids[0]]);
      assert.equal(p3.body.nextPageToken, null);
      const rev = await t.request('GET', `${base}?limit=2&reverse=true`);
      assert.deepEqual(rev.body.results.map((m: any) => m.id), ids.slice(0, 2));
      bird.collect('list: newest first, keyset pages stable while', ...p1.body.results);
      const token = JSON.parse(Buffer.from(p1.body.nextPageToken, 'base64').toString());
      assert.equal(token[1], ids[4], "token is Bird's [createdAt, id]");
    });

    test('list filters', async () => {
      const ws = `/workspaces/${t.workspaceId}`;
      const a = (await send('sms', sms('+31612345601', 'a', { tags: ['alpha'] }))).body;
      const b = (await send('sms', sms('+447700900001', 'b', { tags: ['beta'] }))).body;
      const e = (
        await send('email', {
          receiver: { contacts: [{ identifierValue: 'x@example.com' }] },
          body: { type: 'text', text: { text: 'hi', metadata: { subject: 'Your invoice for March' } } },
          meta: { navigatorId: '123e4567-e89b-12d3-a456-426614174000' },
        })
      ).body;
      const ids = async (q: string, path = `${ws}/messages`) => {
        const r = await t.request('GET', `${path}?${q}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.body.results.map((m: any) => m.id).sort();
      };
      assert.deepEqual(await ids('tag=alpha'), [a.id]);
      assert.deepEqual(await ids('tag[]=alpha&tag[]=beta'), [a.id, b.id].sort());
      assert.deepEqual(await ids('to=%2B447700900001'), [b.id]);
      assert.deepEqual(await ids('countryCode=GB'), [b.id]);
      assert.deepEqual(await ids('platform=email'), [e.id]);
      assert.deepEqual(await ids('platform=sms-messagebird'), [a.id, b.id].sort());
      assert.deepEqual(await ids('emailSubject=invoice'), [e.id]);
      assert.deepEqual(await ids('emailSubject=refund'), []);
      assert.deepEqual(await ids(`id=${a.id}&id=${e.id}`), [a.id, e.id].sort());
      assert.deepEqual(await ids('navigatorId=123e4567-e89b-12d3-a456-426614174000'), [e.id]);
      assert.deepEqual(await ids('direction=incoming'), []);
      assert.deepEqual(await ids(`from=${encodeURIComponent(a.sender.connector.identifierValue)}`), [a.id, b.id].sort());
      assert.deepEqual(await ids(`startAt=${encodeURIComponent(b.createdAt)}`), [b.id, e.id].sort());
      assert.deepEqual(await ids(`endAt=${encodeURIComponent(a.createdAt)}`), [a.id]);
      assert.deepEqual(await ids('failureCode=15005'), []);
      assert.deepEqual(await ids('tag=alpha', `${ws}/channels/${t.channel('email')}/messages`), []);
    });

    test('bad list queries are 400', async () => {
      const base = `/workspaces/${t.workspaceId}/messages`;
      for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'reverse=maybe', 'direction=sideways', 'id=nope', 'startAt=yesterday', 'pageToken=%%%', 'pageToken=WyJ4Il0=', 'failureCode=abc', 'batchId=1']) {
        const r = await t.request('GET', `${base}?${q}`);
        assert.equal(r.status, 400, q);
        assert.equal(typeof r.body.code, 'string');
      }
    });

    test('unknown message is 404', async () => {
      const base = `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`;
      assert.equal((await t.request('GET', `${base}/00000000-0000-4000-8000-000000000000`)).status, 404);
      assert.equal((await t.request('GET', `${base}/not-a-uuid`)).status, 404);
      const m = (await send('sms', sms('+31612345678'))).body;
      // A message is only found under its own channel.
      assert.equal((await t.request('GET', `/workspaces/${t.workspaceId}/channels/${t.channel('whatsapp')}/messages/${m.id}`)).status, 404);
    });
    bird.test(5);
  });
}
