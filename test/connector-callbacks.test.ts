import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// Providers' HTTP callbacks (connectors/callback-routes.ts), played by the sandbox connector's
// callback: signed as a provider signs, checked before anything is stored, committed before the
// answer, applied by the workers like a session's reports.

const SECRET = 'a-callback-secret-of-the-channel';
const sign = (body: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

for (const kind of storeKinds()) {
  describe(`provider callbacks (${kind})`, () => {
    let t: TestAviary;
    let channelId: string;
    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(async () => {
      await t.reset();
      const ch = await t.request('POST', `/workspaces/${t.workspaceId}/channels`, {
        name: 'Called back',
        platform: 'sms',
        connector: { type: 'sandbox', config: { callbackSecret: SECRET } },
      });
      assert.equal(ch.status, 201, JSON.stringify(ch.body));
      assert.notEqual(ch.body.connector.config.callbackSecret, SECRET, 'the secret is write-only');
      channelId = ch.body.id;
    });

    const call = async (body: string, o: { signature?: string; path?: string; channel?: string; type?: string; contentType?: string } = {}) => {
      const res = await fetch(`${t.url}/connectors/${o.type ?? 'sandbox'}/${t.workspaceId}/${o.channel ?? channelId}${o.path ?? '/events'}`, {
        method: 'POST',
        headers: { 'content-type': o.contentType ?? 'application/json', ...(o.signature !== '' ? { 'x-sandbox-signature': o.signature ?? sign(body) } : {}) },
        body,
      });
      return { status: res.status, body: await res.text() };
    };
    const incoming = async () => {
      const list = await t.request('GET', `/workspaces/${t.workspaceId}/channels/${channelId}/messages`);
      return list.body.results.filter((m: any) => m.direction === 'incoming');
    };
    const pendingEvents = async () =>
      Number((await t.aviary.ctx.db.selectFrom('connector_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    test('a signed inbound callback becomes an incoming message; the answer comes after it is stored', async () => {
      const body = JSON.stringify({ events: [{ type: 'inbound', contact: { identifierValue: '+31612345678' }, body: { type: 'text', text: { text: 'called back' } } }] });
      const res = await call(body);
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(JSON.parse(res.body), { accepted: 1 });
      for (let i = 0; i < 100; i++) {
        const [m] = await incoming();
        if (m) {
          assert.equal(m.body.text.text, 'called back');
          assert.equal(m.sender.contact.identifierValue, '+31612345678');
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.fail('no incoming message');
    });

    test('a signed status callback moves a sent message', async () => {
      const sent = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${channelId}/messages`, {
        receiver: { contacts: [{ identifierValue: '+31612341006' }] }, // the sandbox sends no receipt for this one
        body: { type: 'text', text: { text: 'hi' } },
      });
      assert.equal(sent.status, 202);
      await t.waitForStatus(sent.body.id, 'sent');
      const res = await call(JSON.stringify({ events: [{ type: 'status', messageId: sent.body.id, status: 'delivered' }] }));
      assert.equal(res.status, 200, res.body);
      await t.waitForStatus(sent.body.id, 'delivered');
    });

    test('refused before anything is stored: bad signature 401, bad body 400, no secret or wrong path 404, inactive 409', async () => {
      const body = JSON.stringify({ events: [{ type: 'inbound', contact: { identifierValue: '+31612345678' }, body: { type: 'text', text: { text: 'x' } } }] });
      assert.equal((await call(body, { signature: '' })).status, 401);
      assert.equal((await call(body, { signature: sign(body, 'another-secret-entirely') })).status, 401);
      assert.equal((await call(`${body} `, { signature: sign(body) })).status, 401, 'the signature covers the exact bytes');
      assert.equal((await call('not json')).status, 400);
      assert.equal((await call(JSON.stringify({ events: [{ type: 'nope' }] }))).status, 400);
      assert.equal((await call(JSON.stringify({ events: [{ type: 'status', messageId: 'x', status: 'delivered' }] }))).status, 400);
      assert.equal((await call(body, { path: '/other' })).status, 404);
      assert.equal((await call(body, { type: 'smtp' })).status, 404, 'the channel is not an smtp channel');
      assert.equal((await call(body, { channel: '00000000-0000-4000-8000-000000000000' })).status, 404);
      assert.equal((await call(body, { channel: 'not-a-uuid' })).status, 404);
      assert.equal((await call(body, { channel: t.channel('sms') })).status, 404, 'a channel without a secret takes no callbacks');
      assert.equal((await call(body, { contentType: 'application/x-www-form-urlencoded' })).status, 200, 'any content type reaches the connector');
      await t.request('PATCH', `/workspaces/${t.workspaceId}/channels/${channelId}`, { status: 'inactive' });
      assert.equal((await call(body)).status, 409);
      // Only the one signed, well-formed callback was stored.
      for (let i = 0; i < 100 && (await pendingEvents()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal((await incoming()).length, 1);
    });
  });
}
