import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { dsn } from './support/dsn.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';
import { freePort, startFakeRelay, type FakeRelay } from './support/smtp-peer.ts';

// Email through the real runtime: an SMTP channel relays to a fake relay on loopback, bounces that
// come back to Aviary's own listener settle the message by its reference (message_parts), and mail
// to the channel's address becomes an email.inbound message with its attachments stored as media.
// One channel per store, made once: each test uses its own addresses and message ids.

const fixture = (name: string) => readFileSync(new URL(`./fixtures/dsn/${name}`, import.meta.url), 'utf8');
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201ff5d2b2d0a0000000049454e44ae426082', 'hex');

for (const kind of storeKinds()) {
  describe(`email over SMTP through the dispatcher (${kind})`, () => {
    let t: TestAviary;
    let relay: FakeRelay;
    let listenPort: number;
    let channelId: string;
    const messages = () => `/workspaces/${t.workspaceId}/channels/${channelId}/messages`;
    const client = () => nodemailer.createTransport({ host: '127.0.0.1', port: listenPort, secure: false, ignoreTLS: true });

    async function post(to: string, extra: Record<string, unknown> = {}): Promise<string> {
      const res = await t.request('POST', messages(), {
        receiver: { contacts: [{ identifierValue: to }] },
        body: { type: 'text', text: { text: 'hello', metadata: { subject: 'Hi' } } },
        ...extra,
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body.id;
    }
    async function deliver(envelope: { from: string; to: string }, raw: string): Promise<void> {
      const c = client();
      try {
        await c.sendMail({ envelope, raw });
      } finally {
        c.close();
      }
    }
    async function incoming(pred: (m: any) => boolean): Promise<any> {
      for (let i = 0; i < 100; i++) {
        const list = await t.request('GET', `${messages()}?direction=incoming&limit=100`);
        const found = list.body.results.find((m: any) => m.direction === 'incoming' && pred(m));
        if (found) return found;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.fail('no such inbound message');
    }
    async function stored(): Promise<{ incoming: number; media: number }> {
      const db = t.aviary.ctx.db;
      const m = await db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', t.workspaceId).where('direction', '=', 'incoming').executeTakeFirstOrThrow();
      const f = await db.selectFrom('media').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', t.workspaceId).executeTakeFirstOrThrow();
      return { incoming: Number(m.n), media: Number(f.n) };
    }

    before(async () => {
      relay = await startFakeRelay();
      listenPort = await freePort();
      t = await startTestAviary(kind, { smtpListenPort: listenPort });
      const ch = await t.request('POST', `/workspaces/${t.workspaceId}/channels`, {
        name: 'Mail',
        platform: 'email',
        connector: {
          type: 'smtp',
          config: { host: '127.0.0.1', port: relay.port, tls: 'none', from: { address: 'news@aviary.test' }, returnPath: 'bounce+{id}@aviary.test', inbound: { addresses: ['support@aviary.test'] } },
        },
      });
      assert.equal(ch.status, 201, JSON.stringify(ch.body));
      channelId = ch.body.id;
      // A first send opens the channel's session, and with it the listener (else the 5 s sweep does).
      await t.waitForStatus(await post('warmup@example.com'), 'sent');
    });
    after(async () => {
      await t.close();
      await relay.close();
    });

    test('sent through the relay, then a real-shaped bounce makes it delivery_failed once', async () => {
      const id = await post('bob@example.com');
      const sent = await t.waitForStatus(id, 'sent');
      assert.equal(sent.parts.length, 1);
      assert.ok(relay.received.some((m) => m.envelope.rcptTo.some((r) => r.address === 'bob@example.com')));
      const bounce = fixture('postfix-failed.eml').replaceAll('{ID}', id);
      await deliver({ from: '', to: `bounce+${id}@aviary.test` }, bounce);
      const failed = await t.waitForStatus(id, 'delivery_failed');
      assert.equal(failed.failure.source.code, '5.1.1', JSON.stringify(failed.failure));
      assert.match(failed.reason, /550 5\.1\.1/);
      // The same bounce again changes nothing.
      await deliver({ from: '', to: `bounce+${id}@aviary.test` }, bounce);
      const quiet = await t.waitForQuiet(id);
      assert.deepEqual(await t.history(id), ['accepted', 'processing', 'sent', 'delivery_failed']);
      assert.equal(quiet.status, 'delivery_failed');
    });

    test('a DSN "delayed" keeps the message sent; "delivered" makes it delivered', async () => {
      const id = await post('carl@example.com');
      const sent = await t.waitForStatus(id, 'sent');
      // The Message-ID in the returned headers names it (no ENVID): the reference itself.
      await deliver({ from: '', to: `bounce+${id}@aviary.test` }, dsn({ to: `bounce+${id}@aviary.test`, messageId: sent.parts[0].platformReference, action: 'delayed', status: '4.4.1', diagnostic: '421 4.4.1 try later' }));
      assert.equal((await t.waitForQuiet(id)).status, 'sent');
      await deliver({ from: '', to: `bounce+${id}@aviary.test` }, dsn({ to: `bounce+${id}@aviary.test`, envelopeId: id, action: 'delivered', status: '2.0.0' }));
      await t.waitForStatus(id, 'delivered');
      assert.deepEqual(await t.history(id), ['accepted', 'processing', 'sent', 'delivered']);
    });

    test('html + attachment + inline image become an email.inbound message whose media can be fetched', async () => {
      const c = client();
      await c.sendMail({
        from: 'Dana <dana@example.org>', to: 'support@aviary.test', subject: 'Invoice question',
        text: 'see attached', html: '<p>see <img src="cid:logo@x"></p>',
        attachments: [
          { filename: 'invoice.pdf', content: Buffer.from('%PDF-1.4 fake'), contentType: 'application/pdf' },
          { filename: 'logo.png', content: PNG, contentType: 'image/png', cid: 'logo@x' },
        ],
      });
      c.close();
      const m = await incoming((x) => x.body.html?.metadata?.subject === 'Invoice question');
      assert.equal(m.sender.contact.identifierValue, 'dana@example.org');
      assert.equal(m.body.type, 'html');
      assert.match(m.body.html.html, /cid:logo@x/);
      assert.equal(m.body.html.text.trim(), 'see attached');
      const atts = m.body.html.attachments as any[];
      assert.equal(atts.length, 2);
      const pdf = atts.find((a) => a.filename === 'invoice.pdf');
      const logo = atts.find((a) => a.filename === 'logo.png');
      assert.ok(!pdf.inline);
      assert.equal(logo.inline, true);
      assert.equal(logo.contentId, 'logo@x');
      for (const [a, bytes, type] of [[pdf, Buffer.from('%PDF-1.4 fake'), 'application/pdf'], [logo, PNG, 'image/png']] as const) {
        const res = await fetch(new URL(a.mediaUrl, t.url), { headers: { authorization: `AccessKey ${t.key}` } });
        assert.equal(res.status, 200, a.mediaUrl);
        assert.equal(res.headers.get('content-type'), type);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
      }
    });

    test('a reply to a sent message points at it (In-Reply-To -> replyTo)', async () => {
      const id = await post('erin@example.org');
      const sent = await t.waitForStatus(id, 'sent');
      const c = client();
      await c.sendMail({ from: 'erin@example.org', to: 'support@aviary.test', subject: 'Re: Hi', text: 'thanks!', inReplyTo: `<${sent.parts[0].platformReference}>`, references: [`<${sent.parts[0].platformReference}>`] });
      c.close();
      const m = await incoming((x) => x.body.text?.text === 'thanks!');
      assert.equal(m.replyTo?.id, id, JSON.stringify(m.replyTo));
      assert.equal(m.replyTo?.type, 'message');
    });

    test('refused with a clear SMTP error, nothing stored: unknown recipient (550 at RCPT), 30 MiB (552), bad MIME (554)', async () => {
      const before = await stored();
      const c = client();
      await assert.rejects(c.sendMail({ from: 'x@example.org', to: 'nobody@aviary.test', text: 'x' }), (e: any) => e.responseCode === 550 && e.command === 'RCPT TO' && /^550 5\.1\.1 <nobody@aviary\.test>: no such recipient here$/.test(e.response));
      await assert.rejects(
        c.sendMail({ from: 'x@example.org', to: 'support@aviary.test', text: 'big', attachments: [{ filename: 'a.txt', content: 'small' }, { filename: 'big.bin', content: Buffer.alloc(30 * 1024 * 1024, 7) }] }),
        (e: any) => e.responseCode === 552 && /^552 5\.3\.4 .*size/.test(e.response),
      );
      const raw = 'From: x@example.org\r\nTo: support@aviary.test\r\nContent-Type: multipart/mixed; boundary="abc"\r\n\r\n--abc\r\nContent-Type: text/plain\r\n\r\nhalf a message, never terminated\r\n';
      await assert.rejects(c.sendMail({ envelope: { from: 'x@example.org', to: ['support@aviary.test'] }, raw }), (e: any) => e.responseCode === 554 && /^554 5\.6\.0 Malformed message: multipart not terminated$/.test(e.response));
      c.close();
      // An accepted mail after the refused ones proves the listener took them all, then nothing more is stored.
      await deliver({ from: 'y@example.org', to: 'support@aviary.test' }, 'From: y@example.org\r\nTo: support@aviary.test\r\nSubject: marker\r\n\r\nmarker\r\n');
      await incoming((x) => x.body.text?.text === 'marker');
      assert.deepEqual(await stored(), { incoming: before.incoming + 1, media: before.media });
    });

    test('bounces that name no message of ours are dropped, never stored as mail from MAILER-DAEMON', async () => {
      const before = await stored();
      await deliver({ from: '', to: 'support@aviary.test' }, fixture('unknown.eml'));
      const unknownId = '01900000-0000-7000-8000-000000000000';
      await deliver({ from: '', to: `bounce+${unknownId}@aviary.test` }, dsn({ to: `bounce+${unknownId}@aviary.test`, envelopeId: unknownId, action: 'failed', status: '5.1.1' }));
      await deliver({ from: 'z@example.org', to: 'support@aviary.test' }, 'From: z@example.org\r\nTo: support@aviary.test\r\nSubject: marker2\r\n\r\nmarker2\r\n');
      await incoming((x) => x.body.text?.text === 'marker2');
      assert.equal((await stored()).incoming, before.incoming + 1);
      const list = await t.request('GET', `${messages()}?limit=100`);
      assert.ok(!list.body.results.some((m: any) => /mailer-daemon/i.test(m.sender?.contact?.identifierValue ?? '')));
    });
  });
}
