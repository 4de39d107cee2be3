import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Channel } from '../../src/channels/channels.ts';
import { PLATFORM_NAMES, PLATFORMS, type Platform } from '../../src/channels/platforms.ts';
import type { Connector, OutboundMessage, SendResult, Session } from '../../src/connectors/connector.ts';
import { ajv } from '../../src/http/validate.ts';
import { uuidv7 } from '../../src/ids.ts';
import type { ContractPeer } from './contract-peer.ts';
import { testContext } from './smtp-context.ts';

// The contract every connector passes, whatever provider it speaks to. A connector under test gets a
// channel for each platform it claims; providers that cannot run here are faked at the wire by the
// caller (an HTTP/SMTP/SMPP peer on loopback) and reached through `channelConfig`.

export interface ContractSubject {
  name: string;
  connector: () => Connector;
  /** The provider on loopback, for connectors that have one: failures, timeouts, config checks. */
  peer?: () => ContractPeer;
  /** A config the connector's schema accepts (the peer's, when there is one). */
  validConfig?: Record<string, unknown>;
  /** Connector config for a channel of this platform (credentials, peer addresses). */
  channelConfig?: (platform: Platform) => Record<string, unknown>;
  /** A receiver the provider will accept on this platform. */
  receiver: (platform: Platform) => { identifierKey: string; identifierValue: string };
}

export function channelFor(platform: Platform, connectorType: string, config: Record<string, unknown> = {}): Channel {
  const now = new Date();
  return {
    workspaceId: uuidv7(),
    id: uuidv7(),
    platform,
    platformId: PLATFORMS[platform].platformId,
    name: `${platform} contract`,
    status: 'active',
    senderIdentifier: platform === 'email' ? 'sender@example.com' : '+15550100001',
    connectorId: uuidv7(),
    connectorType,
    connectorConfig: config,
    settings: {},
    createdAt: now,
    updatedAt: now,
  };
}

function message(channel: Channel, to: { identifierKey: string; identifierValue: string }, body: OutboundMessage['body'], attempt = 1): OutboundMessage {
  return {
    id: uuidv7(),
    workspaceId: channel.workspaceId,
    channel,
    platform: channel.platform,
    sender: channel.senderIdentifier ?? '',
    recipients: [{ contactId: uuidv7(), ...to, platformAddress: to.identifierValue }],
    body,
    template: null,
    meta: null,
    reference: null,
    attempt,
  };
}

function assertWellFormed(r: SendResult, msg: OutboundMessage): void {
  if (r.ok) {
    assert.ok(r.parts.length >= 1, 'a sent message has at least one part');
    for (const p of r.parts) assert.ok(typeof p.platformReference === 'string' && p.platformReference.length > 0);
    if (r.chargeableUnits !== undefined) assert.ok(Number.isInteger(r.chargeableUnits) && r.chargeableUnits >= 1);
    for (const f of r.followUps ?? []) {
      assert.ok(f.afterMs >= 0);
      if (f.event.kind === 'status') {
        assert.equal(f.event.messageId, msg.id, 'receipts name the message they are about');
        assert.ok(['sent', 'delivered', 'delivery_failed'].includes(f.event.status));
      }
    }
  } else {
    assert.equal(typeof r.retryable, 'boolean');
    assert.ok(Number.isInteger(r.failure.code) && r.failure.code >= 11000 && r.failure.code < 16000, `Bird failure code, got ${r.failure.code}`);
    assert.equal(typeof r.failure.source.name, 'string');
    assert.ok(r.failure.description.length > 0);
  }
}

export function connectorContract(subject: ContractSubject): void {
  describe(`connector contract: ${subject.name}`, () => {
    const connector = subject.connector();
    const platforms = PLATFORM_NAMES.filter((p) => connector.capabilities(p));
    const config = (platform: Platform) => subject.channelConfig?.(platform) ?? subject.peer?.().config ?? subject.validConfig ?? {};
    const sessions: Session[] = [];
    const open = async (platform: Platform, cfg = config(platform)) => {
      const t = testContext();
      const session = await connector.open(channelFor(platform, connector.type, cfg), t.ctx);
      sessions.push(session);
      return { session, t, channel: channelFor(platform, connector.type, cfg) };
    };
    const send = (session: Session, msg: OutboundMessage, timeoutMs = 10_000) => session.send(msg, AbortSignal.timeout(timeoutMs));

    test('declares a config schema that accepts a valid config and marks secrets write-only', () => {
      assert.equal(connector.configSchema.type, 'object');
      const validate = ajv.compile(connector.configSchema);
      const cfg = config(platforms[0]);
      assert.ok(validate(cfg), JSON.stringify(validate.errors));
    });

    test('refuses bad configs, naming the field', (t) => {
      const peer = subject.peer?.();
      if (!peer) return t.skip('no peer with bad configs for this connector');
      const validate = ajv.compile(connector.configSchema);
      for (const bad of peer.badConfigs) {
        assert.equal(validate(bad.config), false, `refuses ${JSON.stringify(bad.config)}`);
        assert.ok(validate.errors!.some((e) => e.instancePath === bad.path || (bad.path === '' && e.instancePath === '')), `an error at "${bad.path}": ${JSON.stringify(validate.errors)}`);
      }
    });

    test('declares what it carries on each platform it serves', () => {
      assert.ok(platforms.length > 0, 'serves at least one platform');
      for (const p of platforms) {
        const caps = connector.capabilities(p)!;
        assert.ok(caps.bodyTypes.has('text') || caps.bodyTypes.size > 0);
      }
    });

    for (const platform of platforms) {
      test(`${platform}: opens a session, sends a text and reports a well-formed result, closes`, async () => {
        const { session, channel } = await open(platform);
        assert.ok(Number.isInteger(session.window) && session.window >= 1, 'a window of at least one send');
        const msg = message(channel, subject.receiver(platform), { type: 'text', text: { text: 'contract test' } });
        const r = await send(session, msg);
        assertWellFormed(r, msg);
        assert.equal(r.ok, true, JSON.stringify(r));
        await session.close();
      });
    }

    test('never throws for bodies it may not expect; answers with a result', async () => {
      const platform = platforms[0];
      const { session, channel } = await open(platform);
      for (const body of [null, { type: 'text', text: { text: '' } }, { type: 'text', text: { text: '€'.repeat(500) } }]) {
        const msg = message(channel, subject.receiver(platform), body as OutboundMessage['body']);
        assertWellFormed(await send(session, msg), msg);
      }
    });

    test('wire errors map to retryable and permanent Bird failures', async (t) => {
      const peer = subject.peer?.();
      if (!peer) return t.skip('no peer: failures are covered by the connector\'s own scenarios');
      const platform = platforms[0];
      const { session, channel } = await open(platform);
      const retry = await send(session, message(channel, peer.receiver('retryable'), { type: 'text', text: { text: 'x' } }));
      assertWellFormed(retry, message(channel, peer.receiver('retryable'), null));
      assert.equal(retry.ok, false);
      assert.equal(!retry.ok && retry.retryable, true, JSON.stringify(retry));
      const perm = await send(session, message(channel, peer.receiver('permanent'), { type: 'text', text: { text: 'x' } }));
      assert.equal(perm.ok, false);
      assert.equal(!perm.ok && perm.retryable, false, JSON.stringify(perm));
    });

    test('a send that outlasts its timeout is aborted: it rejects or fails retryably, and does not hang', async (t) => {
      const peer = subject.peer?.();
      if (!peer) return t.skip('no peer that can be slow');
      const platform = platforms[0];
      const { session, channel } = await open(platform);
      const started = Date.now();
      const r = await send(session, message(channel, peer.receiver('slow'), { type: 'text', text: { text: 'x' } }), 100).catch((err: Error) => err);
      assert.ok(Date.now() - started < 5_000, 'settles soon after the abort');
      if (!(r instanceof Error)) assert.ok(!r.ok && r.retryable, `a retryable failure, got ${JSON.stringify(r)}`);
    });

    test('inbound messages from the provider arrive through ctx.report', async (t) => {
      const peer = subject.peer?.();
      if (!peer?.inbound) return t.skip('this peer does not push inbound messages');
      // The earlier sessions of this suite would receive it too: this one is the only one open.
      await Promise.all(sessions.splice(0).map((s) => s.close()));
      const { t: ctx } = await open(platforms[0]);
      await peer.inbound(peer.receiver('ok').identifierValue, 'hello from the contract');
      const e = await ctx.next((ev) => ev.kind === 'inbound');
      assert.equal(e.kind, 'inbound');
    });

    test('closing every session it opened', async () => {
      await Promise.all(sessions.splice(0).map((s) => s.close()));
    });
  });
}
