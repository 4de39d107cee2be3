import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';
import { birdConformance } from './support/bird-schema.ts';

const text = (to: string, body = 'hello', extra: Record<string, unknown> = {}) => ({
  receiver: { contacts: [{ identifierValue: to }] },
  body: { type: 'text', text: { text: body } },
  ...extra,
});

for (const kind of storeKinds()) {
  describe(`dispatch through the sandbox (${kind})`, () => {
    const bird = birdConformance('Message');
    let t: TestAviary;
    const send = async (platform: string, body: unknown) => {
      const res = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${t.channel(platform)}/messages`, body);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body;
    };
    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    test('accepted -> processing -> sent -> delivered, with parts and chargeable units', async () => {
      const m = await send('sms', text('+31612345678', 'x'.repeat(161)));
      const done = await t.waitForStatus(m.id, 'delivered');
      assert.deepEqual(await t.history(m.id), ['accepted', 'processing', 'sent', 'delivered']);
      assert.equal(done.chargeableUnits, 2);
      assert.deepEqual(done.parts, [{ platformReference: `${m.id}:1` }, { platformReference: `${m.id}:2` }]);
      assert.ok(new Date(done.lastStatusAt) > new Date(m.lastStatusAt));
      bird.collect('accepted -> processing -> sent -> delivered', done);
    });

    test('an idle server sends a new message within milliseconds', async () => {
      await t.request('PATCH', `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}`, { connector: { config: { receiptDelayMs: 60_000 } } });
      const started = Date.now();
      const m = await send('sms', text('+31612345678'));
      await t.waitForStatus(m.id, 'sent', 2000);
      assert.ok(Date.now() - started < 500, `took ${Date.now() - started} ms`);
    });

    test('unknown subscriber: delivery_failed with Bird failure fields', async () => {
      const m = await send('sms', text('+31612341001'));
      const done = await t.waitForStatus(m.id, 'delivery_failed');
      assert.deepEqual(done.failure, { code: 15005, description: 'Unknown subscriber', source: { name: 'sms-messagebird', code: '1' } });
      assert.equal(done.reason, 'details: unknown subscriber; reason: unknown_subscriber; code: 1');
      assert.equal(done.details, 'unknown_subscriber');
      const listed = await t.request('GET', `/workspaces/${t.workspaceId}/messages?failureCode=15005&failureSourceName=sms-messagebird&failureSourceCode=1`);
      assert.deepEqual(listed.body.results.map((r: any) => r.id), [m.id]);
    });

    test('transient errors retry up to 10 attempts, then sending_failed', async () => {
      const m = await send('sms', text('+31612341002'));
      const done = await t.waitForStatus(m.id, 'sending_failed', 15_000);
      assert.equal(done.failure.code, 15001);
      const row = await t.aviary.ctx.db.selectFrom('messages').select('attempts').where('id', '=', m.id).executeTakeFirstOrThrow();
      assert.equal(row.attempts, 10);
      assert.deepEqual(await t.history(m.id), ['accepted', 'processing', 'sending_failed']);
    });

    test('flaky provider: retried, then delivered', async () => {
      const m = await send('sms', text('+31612341003'));
      await t.waitForStatus(m.id, 'delivered');
      const row = await t.aviary.ctx.db.selectFrom('messages').select('attempts').where('id', '=', m.id).executeTakeFirstOrThrow();
      assert.equal(row.attempts, 3);
    });

    test('permanent rejection and unsupported destination fail without retry', async () => {
      const a = await send('sms', text('+31612341004'));
      const b = await send('sms', text('+31612341010'));
      assert.equal((await t.waitForStatus(a.id, 'sending_failed')).failure.code, 15002);
      assert.equal((await t.waitForStatus(b.id, 'sending_failed')).failure.code, 12003);
    });

    test('duplicate and out-of-order receipts never move a message backwards', async () => {
      const dup = await send('sms', text('+31612341007'));
      const ooo = await send('sms', text('+31612341008'));
      // Quiet: both receipts of each have been applied (the second one is what must change nothing).
      assert.equal((await t.waitForQuiet(dup.id)).status, 'delivered');
      assert.equal((await t.waitForQuiet(ooo.id)).status, 'delivered');
      assert.deepEqual(await t.history(dup.id), ['accepted', 'processing', 'sent', 'delivered']);
      assert.deepEqual(await t.history(ooo.id), ['accepted', 'processing', 'sent', 'delivered']);
    });

    test('no receipt: stays sent', async () => {
      const m = await send('sms', text('+31612341006'));
      const done = await t.waitForQuiet(m.id);
      assert.equal(done.status, 'sent');
      assert.deepEqual(await t.history(m.id), ['accepted', 'processing', 'sent']);
    });

    test('email to several recipients ends at sent', async () => {
      const m = await send('email', {
        receiver: { contacts: [{ identifierValue: 'a@example.com' }, { identifierValue: 'b@example.com', type: 'bcc' }] },
        body: { type: 'text', text: { text: 'hi', metadata: { subject: 'S' } } },
      });
      assert.equal((await t.waitForQuiet(m.id)).status, 'sent');
      assert.deepEqual(await t.history(m.id), ['accepted', 'processing', 'sent']);
    });

    test('unsupported body type for the platform: sending_failed 12002', async () => {
      const m = await send('telegram', {
        receiver: { contacts: [{ identifierValue: '12345' }] },
        body: { type: 'carousel', carousel: { items: [{ title: 'a', description: 'b', mediaUrl: 'https://example.com/a.png' }] } },
      });
      const done = await t.waitForStatus(m.id, 'sending_failed');
      assert.equal(done.failure.code, 12002);
    });

    test('scheduledFor in the future: scheduled, then sent on time', async () => {
      const at = new Date(Date.now() + 1500);
      const m = await send('sms', text('+31612345678', 'later', { scheduledFor: at.toISOString() }));
      await t.waitForStatus(m.id, 'scheduled');
      const sent = await t.waitForStatus(m.id, ['sent', 'delivered'], 5000);
      assert.ok(Date.now() >= at.getTime());
      assert.ok(new Date(sent.lastStatusAt).getTime() - at.getTime() < 1000, 'sent within a second of its time');
      assert.equal(sent.scheduledFor, at.toISOString());
    });

    test('validity expired before sending: sending_failed', async () => {
      const at = new Date(Date.now() + 1200);
      const m = await send('sms', text('+31612345678', 'x', { scheduledFor: at.toISOString(), validity: 0 }));
      const done = await t.waitForStatus(m.id, 'sending_failed', 5000);
      assert.equal(done.failure.code, 12007);
    });

    test('WhatsApp outside the service window: 131047', async () => {
      const m = await send('whatsapp', text('+31612345678'));
      const done = await t.waitForStatus(m.id, 'sending_failed');
      assert.deepEqual(done.failure.source, { name: 'whatsapp', code: '131047' });
    });

    test('a WhatsApp template goes out outside the service window, rendered; a bad template is 422', async () => {
      const ws = `/workspaces/${t.workspaceId}`;
      const project = await t.request('POST', `${ws}/projects`, { name: 'order-shipped', type: 'channelTemplate' });
      assert.equal(project.status, 201, JSON.stringify(project.body));
      const version = await t.request('POST', `${ws}/projects/${project.body.id}/channel-templates`, {
        defaultLocale: 'en',
        supportedPlatforms: ['whatsapp'],
        genericContent: [{ locale: 'en', body: { type: 'text', text: { text: 'Hi {{name}}, order {{orderId}} shipped' } } }],
        approval: 'auto',
      });
      assert.equal(version.status, 201, JSON.stringify(version.body));
      const m = await send('whatsapp', {
        receiver: { contacts: [{ identifierValue: '+31612345678' }] },
        template: { projectId: project.body.id, version: 'latest', locale: 'en-US', parameters: [{ type: 'string', key: 'name', value: 'Ann' }, { type: 'string', key: 'orderId', value: 'A-17' }] },
      });
      assert.equal(m.body.text.text, 'Hi Ann, order A-17 shipped');
      assert.equal((await t.waitForStatus(m.id, 'delivered')).template.projectId, project.body.id);
      const missing = await t.request('POST', `${ws}/channels/${t.channel('whatsapp')}/messages`, {
        receiver: { contacts: [{ identifierValue: '+31612345678' }] },
        template: { projectId: project.body.id, version: 'latest', locale: 'en', parameters: [{ type: 'string', key: 'name', value: 'Ann' }] },
      });
      assert.equal(missing.status, 422);
      assert.ok(JSON.stringify(missing.body.details).includes('orderId'), JSON.stringify(missing.body));
      const unknown = await t.request('POST', `${ws}/channels/${t.channel('whatsapp')}/messages`, {
        receiver: { contacts: [{ identifierValue: '+31612345678' }] },
        template: { projectId: '00000000-0000-4000-8000-000000000000', version: 'latest', locale: 'en' },
      });
      assert.equal(unknown.status, 422);
    });

    test('auto-reply: an inbound message arrives from the contact', async () => {
      const m = await send('sms', text('+31612341012', 'ping'));
      await t.waitForStatus(m.id, 'delivered');
      let inbound: any;
      for (let i = 0; i < 100 && !inbound; i++) {
        const r = await t.request('GET', `/workspaces/${t.workspaceId}/messages?direction=incoming`);
        inbound = r.body.results[0];
        if (!inbound) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(inbound, 'inbound reply arrived');
      assert.equal(inbound.status, 'delivered');
      assert.equal(inbound.body.text.text, 'Re: ping');
      assert.equal(inbound.sender.contact.identifierValue, '+31612341012');
      assert.equal(inbound.sender.contact.id, m.receiver.contacts[0].id);
      bird.collect('auto-reply: an inbound message arrives from', inbound);
    });
    bird.test(2);
  });
}
