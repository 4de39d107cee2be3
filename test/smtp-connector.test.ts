import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { Ajv } from 'ajv';
import type { OutboundMessage, Session } from '../src/connectors/connector.ts';
import { SmtpConnector } from '../src/connectors/smtp/smtp-connector.ts';
import { parseDeliveryStatus, receiptFor } from '../src/connectors/smtp/delivery-status.ts';
import { uuidv7 } from '../src/ids.ts';
import { channelFor } from './support/connector-contract.ts';
import { freePort, selfSignedCert, startFakeRelay, startSmtpPeer, type FakeRelay } from './support/smtp-peer.ts';
import { testContext } from './support/smtp-context.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/dsn/${name}`, import.meta.url));

function message(channel: ReturnType<typeof channelFor>, to: string[], body: OutboundMessage['body'], extra: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    id: uuidv7(), workspaceId: channel.workspaceId, channel, platform: 'email', sender: '',
    recipients: to.map((t) => {
      const [type, addr] = t.includes(':') ? t.split(':') : ['to', t];
      return { contactId: uuidv7(), identifierKey: 'emailaddress', identifierValue: addr, platformAddress: addr, type: type as 'to' };
    }),
    body, template: null, meta: null, reference: null, attempt: 1, ...extra,
  };
}
const text = (t: string) => ({ type: 'text', text: { text: t, metadata: { subject: 'Hi' } } });
const signal = () => new AbortController().signal;

describe('smtp connector', () => {
  let peer: Awaited<ReturnType<typeof startSmtpPeer>>;
  let connector: SmtpConnector;
  let session: Session;
  let t: ReturnType<typeof testContext>;
  let channel: ReturnType<typeof channelFor>;
  let files: ReturnType<typeof createServer>;
  let filesUrl: string;

  before(async () => {
    peer = await startSmtpPeer();
    connector = new SmtpConnector(peer.connectorOptions);
    t = testContext();
    channel = channelFor('email', 'smtp', peer.config);
    session = await connector.open(channel, t.ctx);
    files = createServer((_q, s) => { s.setHeader('content-type', 'image/png'); s.end(Buffer.from('PNGDATA')); });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', () => r()));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  });
  after(async () => {
    await session.close();
    await peer.close();
    files.close();
  });

  test('config schema: the peer config passes, bad ones fail at their path', () => {
    const validate = new Ajv({ strict: false, allErrors: true }).compile(connector.configSchema);
    assert.ok(validate(peer.config), JSON.stringify(validate.errors));
    for (const bad of peer.badConfigs) {
      assert.equal(validate(bad.config), false);
      assert.ok(validate.errors!.some((e) => e.instancePath === bad.path), `${bad.path}: ${JSON.stringify(validate.errors)}`);
    }
  });

  test('text + html, attachments, headers, to/cc/bcc in one message; Message-ID is the reference', async () => {
    const msg = message(channel, ['alice@example.com', 'cc:carol@example.com', 'bcc:bob@example.com'], {
      type: 'html',
      html: {
        text: 'plain', html: '<p>rich <img src="cid:logo"></p>',
        attachments: [
          { mediaUrl: `${filesUrl}/logo.png`, filename: 'logo.png', inline: true, contentId: 'logo' },
          { content: Buffer.from('hello file').toString('base64'), contentType: 'text/plain', filename: 'a.txt' },
        ],
        metadata: { subject: 'Subject from body', headers: { 'X-Campaign': 'c1', 'Reply-To': 'replies@aviary.test' } },
      },
    }, { reference: 'order-7' });
    const r = await session.send(msg, signal());
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.parts[0].platformReference, `${msg.id}@aviary.test`);
    assert.equal(r.final, true);
    const got = peer.relay.received.at(-1)!;
    assert.deepEqual(got.envelope.rcptTo.map((x) => x.address).sort(), ['alice@example.com', 'bob@example.com', 'carol@example.com']);
    assert.equal((got.envelope.mailFrom as { address: string }).address, `bounce+${msg.id}@aviary.test`);
    assert.equal((got.envelope as any).dsn?.envid, msg.id);
    const mail = await simpleParser(got.raw);
    assert.equal(mail.subject, 'Subject from body');
    assert.equal(mail.messageId, `<${msg.id}@aviary.test>`);
    assert.equal(mail.text?.trim(), 'plain');
    assert.match(String(mail.html), /rich/);
    assert.equal(mail.headers.get('x-aviary-message-id'), msg.id);
    assert.equal(mail.headers.get('x-aviary-reference'), 'order-7');
    assert.equal(mail.headers.get('x-campaign'), 'c1');
    assert.equal(mail.replyTo?.value[0].address, 'replies@aviary.test');
    assert.equal(mail.headers.get('bcc'), undefined);
    assert.match(got.raw.toString(), /multipart\/alternative/);
    const logo = mail.attachments.find((a) => a.filename === 'logo.png')!;
    assert.equal(logo.content.toString(), 'PNGDATA');
    assert.equal(logo.cid, 'logo');
    assert.equal(mail.attachments.find((a) => a.filename === 'a.txt')!.content.toString(), 'hello file');
  });

  test('single receiver: sent, not final; subject from meta.email', async () => {
    const msg = message(channel, ['alice@example.com'], { type: 'text', text: { text: 'x' } }, { meta: { email: { subject: 'From meta' } } });
    const r = await session.send(msg, signal());
    assert.ok(r.ok && !r.final);
    assert.equal((await simpleParser(peer.relay.received.at(-1)!.raw)).subject, 'From meta');
  });

  test('reply codes: 5.1.1 permanent, 4.2.2 and 421 retryable, 5.7.1 channel configuration', async () => {
    const r550 = await session.send(message(channel, ['unknown@example.com'], text('x')), signal());
    assert.ok(!r550.ok && !r550.retryable);
    assert.deepEqual(r550.failure.source, { name: 'email-messagebird', code: '550 5.1.1' });
    assert.equal(r550.failure.code, 15005);
    const r452 = await session.send(message(channel, ['full@example.com'], text('x')), signal());
    assert.ok(!r452.ok && r452.retryable, JSON.stringify(r452));
    assert.equal(r452.failure.source.code, '452 4.2.2');
    const r421 = await session.send(message(channel, ['busy@example.com'], text('x')), signal());
    assert.ok(!r421.ok && r421.retryable, JSON.stringify(r421));
    const r571 = await session.send(message(channel, ['policy@example.com'], text('x')), signal());
    assert.ok(!r571.ok && !r571.retryable);
    assert.equal(r571.failure.code, 11001);
    assert.equal(r571.failure.source.code, '550 5.7.1');
  });

  test('a connection dropped mid-DATA is retryable; the session still sends afterwards', async () => {
    const r = await session.send(message(channel, ['drop@example.com'], text('x')), signal());
    assert.ok(!r.ok && r.retryable, JSON.stringify(r));
    const ok = await session.send(message(channel, ['alice@example.com'], text('after')), signal());
    assert.ok(ok.ok);
  });

  test('a slow relay: the send waits; an abort rejects it', async () => {
    const slow = await session.send(message(channel, ['slow@example.com'], text('x')), signal());
    assert.ok(slow.ok);
    const ac = new AbortController();
    const p = session.send(message(channel, ['slow@example.com'], text('x')), ac.signal);
    setTimeout(() => ac.abort(new Error('send timeout')), 50);
    await assert.rejects(p, /send timeout/);
  });

  test('a relay that requires TLS refuses a plaintext channel: channel configuration failure', async () => {
    const relay: FakeRelay = await startFakeRelay({ requireTls: true });
    const s = await new SmtpConnector().open(channelFor('email', 'smtp', { ...peer.config, port: relay.port, inbound: undefined }), t.ctx);
    const r = await s.send(message(channel, ['alice@example.com'], text('x')), signal());
    assert.ok(!r.ok && !r.retryable, JSON.stringify(r));
    assert.equal(r.failure.code, 11001);
    await s.close();
    await relay.close();
  });

  test('a channel that requires STARTTLS never falls back to plaintext, nor trusts an unknown certificate', async () => {
    const plain = await startFakeRelay();
    const selfSigned = await startFakeRelay({ cert: selfSignedCert() });
    for (const relay of [plain, selfSigned]) {
      const s = await new SmtpConnector().open(channelFor('email', 'smtp', { ...peer.config, port: relay.port, tls: 'starttls', inbound: undefined }), t.ctx);
      try {
        const r = await s.send(message(channel, ['alice@example.com'], text('x')), signal());
        assert.ok(!r.ok && !r.retryable, JSON.stringify(r));
        assert.equal(r.failure.code, 11001);
        assert.match(r.reason!, relay === plain ? /STARTTLS/ : /certificate/);
        assert.equal(relay.received.length, 0);
      } finally {
        await s.close();
        await relay.close();
      }
    }
  });

  const client = () => nodemailer.createTransport({ host: '127.0.0.1', port: peer.connectorOptions.listen!.port, secure: false, ignoreTLS: true });

  test('inbound: html + attachments + an inline image become an inbound event with stored media', async () => {
    const c = client();
    await c.sendMail({
      from: 'Dana <dana@example.org>', to: 'support@aviary.test', subject: 'Question',
      text: 'plain question', html: '<b>question</b><img src="cid:pic1">',
      attachments: [{ filename: 'note.txt', content: 'attached!' }, { filename: 'pic.png', content: Buffer.from('PNGDATA'), contentType: 'image/png', cid: 'pic1' }],
    });
    c.close();
    const e = await t.next((x) => x.kind === 'inbound' && (x.body as any).html?.html === '<b>question</b><img src="cid:pic1">');
    assert.ok(e.kind === 'inbound');
    assert.deepEqual(e.contact, { identifierKey: 'emailaddress', identifierValue: 'dana@example.org' });
    const atts = (e.body as any).html.attachments as any[];
    assert.equal(atts.length, 2);
    const note = atts.find((a) => a.filename === 'note.txt');
    const pic = atts.find((a) => a.filename === 'pic.png');
    assert.deepEqual({ ...t.media.get(note.mediaUrl)!, data: t.media.get(note.mediaUrl)!.data.toString() }, { data: 'attached!', type: 'text/plain', filename: 'note.txt' });
    assert.equal(note.inline, undefined);
    assert.deepEqual({ ...pic, mediaUrl: undefined }, { mediaUrl: undefined, filename: 'pic.png', inline: true, contentId: 'pic1' });
    assert.equal(t.media.get(pic.mediaUrl)!.data.toString(), 'PNGDATA');
    assert.equal(t.media.get(pic.mediaUrl)!.type, 'image/png');
    assert.equal((e.body as any).html.text.trim(), 'plain question');
    assert.equal((e.body as any).html.metadata.subject, 'Question');
  });

  test('inbound over STARTTLS with the configured certificate; without one, STARTTLS is not offered', async () => {
    const cert = selfSignedCert();
    const port = await freePort();
    const tlsConnector = new SmtpConnector({ listen: { port, host: '127.0.0.1', maxBytes: 1024 * 1024, certPath: cert.certPath, keyPath: cert.keyPath } });
    const s = await tlsConnector.open(channelFor('email', 'smtp', { ...peer.config, inbound: { addresses: ['secure@aviary.test'] } }), t.ctx);
    const c = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { ca: [cert.cert] } });
    const info = await c.sendMail({ from: 'gail@example.org', to: 'secure@aviary.test', subject: 'tls', text: 'over tls' });
    c.close();
    assert.match(info.response, /^250/);
    await t.next((x) => x.kind === 'inbound' && (x.body as any).text?.text === 'over tls');
    await s.close();
    const plain = nodemailer.createTransport({ host: '127.0.0.1', port: peer.connectorOptions.listen!.port, secure: false, requireTLS: true });
    await assert.rejects(plain.sendMail({ from: 'gail@example.org', to: 'support@aviary.test', text: 'x' }), /STARTTLS/);
    plain.close();
    // A certificate that cannot be read fails the channel's open (and the next open tries again).
    const broken = new SmtpConnector({ listen: { port: await freePort(), host: '127.0.0.1', maxBytes: 1024, certPath: '/nonexistent/cert.pem', keyPath: cert.keyPath } });
    await assert.rejects(broken.open(channelFor('email', 'smtp', peer.config), t.ctx), /ENOENT/);
  });

  test('inbound: a reply names the message it answers; the contract peer sends plain text', async () => {
    const c = client();
    await c.sendMail({ from: 'erin@example.org', to: 'support@aviary.test', subject: 'Re: x', text: 'thanks', inReplyTo: '<abc@aviary.test>' });
    c.close();
    const e = await t.next((x) => x.kind === 'inbound' && (x.body as any).text?.text === 'thanks');
    assert.ok(e.kind === 'inbound' && e.inReplyToReference === 'abc@aviary.test');
    await peer.inbound!('frank@example.org', 'via peer');
    await t.next((x) => x.kind === 'inbound' && (x.body as any).text?.text === 'via peer');
  });

  test('inbound refusals: unknown recipient 550, oversize 552, malformed MIME 554, storage down 451; nothing stored', async () => {
    const before = t.events.length;
    const c = client();
    await assert.rejects(c.sendMail({ from: 'x@example.org', to: 'nobody@aviary.test', text: 'x' }), (e: any) => e.responseCode === 550);
    await assert.rejects(c.sendMail({ from: 'x@example.org', to: 'support@aviary.test', text: 'x', attachments: [{ filename: 'big.bin', content: Buffer.alloc(2 * 1024 * 1024) }] }), (e: any) => e.responseCode === 552);
    const raw = 'From: x@example.org\r\nTo: support@aviary.test\r\nContent-Type: multipart/mixed; boundary="abc"\r\n\r\nno parts here\r\n';
    await assert.rejects(c.sendMail({ envelope: { from: 'x@example.org', to: ['support@aviary.test'] }, raw }), (e: any) => e.responseCode === 554);
    t.setFailReport(true);
    await assert.rejects(c.sendMail({ from: 'x@example.org', to: 'support@aviary.test', text: 'x' }), (e: any) => e.responseCode === 451);
    t.setFailReport(false);
    c.close();
    assert.equal(t.events.length, before);
  });

  test('inbound: 30 MiB sent without a declared SIZE is refused 552 5.3.4 after DATA, not kept; the connection goes on', async () => {
    const before = t.events.length;
    const sock = connect(peer.connectorOptions.listen!.port, '127.0.0.1');
    let buf = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => { buf += d; });
    const reply = async (code: RegExp) => {
      for (let i = 0; i < 400 && !code.test(buf); i++) await new Promise((r) => setTimeout(r, 25));
      const got = buf;
      buf = '';
      assert.match(got, code);
      return got;
    };
    await reply(/^220 /m);
    sock.write('EHLO client.example.org\r\n');
    await reply(/^250 /m);
    sock.write('MAIL FROM:<x@example.org>\r\n');
    await reply(/^250 /m);
    sock.write('RCPT TO:<support@aviary.test>\r\n');
    await reply(/^250 /m);
    sock.write('DATA\r\n');
    await reply(/^354 /m);
    sock.write('From: x@example.org\r\nTo: support@aviary.test\r\nSubject: big\r\n\r\n');
    const line = 'A'.repeat(998) + '\r\n';
    const chunk = line.repeat(1024);
    for (let sent = 0; sent < 30 * 1024 * 1024; sent += chunk.length) {
      if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
    }
    sock.write('\r\n.\r\n');
    assert.match(await reply(/^552 /m), /^552 5\.3\.4 /m);
    sock.write('NOOP\r\n');
    await reply(/^250 /m);
    sock.end('QUIT\r\n');
    assert.equal(t.events.length, before);
  });

  test('a bounce to the VERP return path becomes a delivery_failed receipt; an unknown bounce is dropped', async () => {
    const id = uuidv7();
    const c = client();
    const raw = fixture('postfix-failed.eml').toString().replaceAll('{ID}', id);
    await c.sendMail({ envelope: { from: '', to: [`bounce+${id}@aviary.test`] }, raw });
    const e = await t.next((x) => x.kind === 'receipt' && x.reference === `${id}@aviary.test`);
    assert.ok(e.kind === 'receipt' && e.status === 'delivery_failed');
    assert.equal(e.failure?.source.code, '5.1.1');
    assert.match(e.reason!, /550 5.1.1/);
    const n = t.events.length;
    await c.sendMail({ envelope: { from: '', to: ['support@aviary.test'] }, raw: fixture('unknown.eml') });
    c.close();
    assert.equal(t.events.length, n);
  });

  test('DSN fixtures: failed, delayed, delivered', () => {
    const dsn = (action: string, status: string) => parseDeliveryStatus(`Reporting-MTA: dns; mx\r\nOriginal-Envelope-Id: ID1\r\n\r\nFinal-Recipient: rfc822; a@b\r\nAction: ${action}\r\nStatus: ${status}\r\nDiagnostic-Code: smtp; 452 4.2.2 full\r\n`);
    assert.equal(dsn('failed', '5.2.2').envelopeId, 'ID1');
    assert.equal(receiptFor(dsn('delayed', '4.2.2'), 'r', 's')!.kind === 'receipt' && (receiptFor(dsn('delayed', '4.2.2'), 'r', 's') as any).status, 'sent');
    assert.equal((receiptFor(dsn('delivered', '2.0.0'), 'r', 's') as any).status, 'delivered');
    assert.equal((receiptFor(dsn('failed', '5.2.2'), 'r', 's') as any).failure.code, 15002);
  });
});
