import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { OutboundMessage, Session } from '../src/connectors/connector.ts';
import { SmtpConnector } from '../src/connectors/smtp/smtp-connector.ts';
import { uuidv7 } from '../src/ids.ts';
import { channelFor } from './support/connector-contract.ts';
import { postfixMissing, startPostfix, type PostfixRig } from './support/postfix.ts';
import { freePort } from './support/smtp-peer.ts';
import { testContext } from './support/smtp-context.ts';

// Aviary -> a real Postfix -> smtp-sink that refuses one recipient: the bounce Aviary parses is the
// one Postfix wrote, delivered back to Aviary's listener at the VERP return path.

describe('smtp through a real Postfix', { skip: postfixMissing }, () => {
  let rig: PostfixRig;
  let session: Session;
  let connector: SmtpConnector;
  const t = testContext();
  let channel: ReturnType<typeof channelFor>;

  before(async () => {
    const [port, acceptPort, rejectPort, aviaryPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    connector = new SmtpConnector({ listen: { port: aviaryPort, host: '127.0.0.1', maxBytes: 10 * 1024 * 1024 } });
    channel = channelFor('email', 'smtp', {
      host: '127.0.0.1', port, tls: 'none',
      from: { address: 'news@aviary.test' }, returnPath: 'bounce+{id}@aviary.test', inbound: {},
    });
    session = await connector.open(channel, t.ctx);
    rig = await startPostfix({ port, acceptPort, rejectPort, aviaryPort, rejectRecipients: ['bob@example.com'] });
  });
  after(async () => {
    await session?.close();
    await rig?.stop();
  });

  const message = (to: string): OutboundMessage => ({
    id: uuidv7(), workspaceId: channel.workspaceId, channel, platform: 'email', sender: '',
    recipients: [{ contactId: uuidv7(), identifierKey: 'emailaddress', identifierValue: to, platformAddress: to }],
    body: { type: 'text', text: { text: 'hello', metadata: { subject: 'Hi' } } }, template: null, meta: null, reference: null, attempt: 1,
  });

  test('accepted by Postfix -> sent; the refused recipient comes back as a real bounce -> delivery_failed', async () => {
    const ok = await session.send(message('alice@example.com'), new AbortController().signal);
    assert.ok(ok.ok, JSON.stringify(ok));
    const msg = message('bob@example.com');
    const r = await session.send(msg, new AbortController().signal);
    assert.ok(r.ok, JSON.stringify(r));
    const ref = r.parts[0].platformReference;
    const e = await t.next((x) => x.kind === 'receipt' && x.reference === ref, 30_000).catch((err) => { throw new Error(`${err.message}\n${rig.log()}`); });
    assert.ok(e.kind === 'receipt');
    assert.equal(e.status, 'delivery_failed');
    assert.equal(e.failure?.source.code, '5.1.1');
    assert.match(e.reason ?? '', /550 5\.1\.1/);
    assert.ok(!t.events.some((x) => x.kind === 'inbound'), 'a bounce is never an inbound message');
  });
});
