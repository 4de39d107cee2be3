import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';
import { freePort, startFakeRelay, type FakeRelay } from './support/smtp-peer.ts';

// Email through the real runtime: an SMTP channel relays to a fake relay on loopback, a bounce that
// comes back to Aviary's own listener settles the message by its reference (message_parts), and mail
// to the channel's address becomes an email.inbound message.

const bounceFixture = readFileSync(new URL('./fixtures/dsn/postfix-failed.eml', import.meta.url), 'utf8');

for (const kind of storeKinds()) {
  describe(`email over SMTP through the dispatcher (${kind})`, () => {
    let t: TestAviary;
    let relay: FakeRelay;
    let listenPort: number;
    let channelId: string;
    before(async () => {
      relay = await startFakeRelay();
      listenPort = await freePort();
      t = await startTestAviary(kind, { smtpListenPort: listenPort });
    });
    after(async () => {
      await t.close();
      await relay.close();
    });
    // Each test's channel has its own addresses: the previous test's channel keeps its registration
    // on the listener until the next session sweep notices it is gone.
    let n = 0;
    let support = '';
    let bounce = '';
    beforeEach(async () => {
      await t.reset();
      n++;
      support = `support${n}@aviary.test`;
      bounce = `bounce${n}`;
      const ch = await t.request('POST', `/workspaces/${t.workspaceId}/channels`, {
        name: 'Mail',
        platform: 'email',
        connector: {
          type: 'smtp',
          config: { host: '127.0.0.1', port: relay.port, tls: 'none', from: { address: 'news@aviary.test' }, returnPath: `${bounce}+{id}@aviary.test`, inbound: { addresses: [support] } },
        },
      });
      assert.equal(ch.status, 201, JSON.stringify(ch.body));
      channelId = ch.body.id;
    });
    const deliver = async (envelope: { from: string; to: string }, raw: string) => {
      // The listener opens with the channel's session (the dispatcher's sweep): wait for it to answer.
      for (let i = 0; ; i++) {
        const transport = nodemailer.createTransport({ host: '127.0.0.1', port: listenPort, secure: false, ignoreTLS: true });
        try {
          await transport.sendMail({ envelope, raw });
          return;
        } catch (err) {
          if (i > 60) throw err;
          await new Promise((r) => setTimeout(r, 250));
        } finally {
          transport.close();
        }
      }
    };

    test('sent through the relay, then a real-shaped bounce makes it delivery_failed once', async () => {
      const res = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${channelId}/messages`, {
        receiver: { contacts: [{ identifierValue: 'bob@example.com' }] },
        body: { type: 'text', text: { text: 'hello', metadata: { subject: 'Hi' } } },
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const sent = await t.waitForStatus(res.body.id, 'sent');
      assert.equal(sent.parts.length, 1);
      assert.ok(relay.received.some((m) => m.envelope.rcptTo.some((r) => r.address === 'bob@example.com')));
      const dsn = bounceFixture.replaceAll('{ID}', res.body.id);
      await deliver({ from: '', to: `${bounce}+${res.body.id}@aviary.test` }, dsn);
      const failed = await t.waitForStatus(res.body.id, 'delivery_failed');
      assert.equal(failed.failure.source.code, '5.1.1', JSON.stringify(failed.failure));
      // The same bounce again changes nothing.
      await deliver({ from: '', to: `${bounce}+${res.body.id}@aviary.test` }, dsn);
      const quiet = await t.waitForQuiet(res.body.id);
      assert.deepEqual(await t.history(res.body.id), ['accepted', 'processing', 'sent', 'delivery_failed']);
      assert.equal(quiet.status, 'delivery_failed');
    });

    test('mail to the channel address becomes an email.inbound message from a contact', async () => {
      await deliver({ from: 'carol@example.com', to: support }, `From: carol@example.com\r\nTo: ${support}\r\nSubject: Hi\r\n\r\nhello there\r\n`);
      for (let i = 0; i < 80; i++) {
        const list = await t.request('GET', `/workspaces/${t.workspaceId}/channels/${channelId}/messages`);
        const inbound = list.body.results.find((m: any) => m.direction === 'incoming');
        if (inbound) {
          assert.equal(inbound.sender.contact.identifierValue, 'carol@example.com');
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail('no inbound message');
    });
  });
}
