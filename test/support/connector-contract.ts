import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Channel } from '../../src/channels/channels.ts';
import { PLATFORM_NAMES, PLATFORMS, type Platform } from '../../src/channels/platforms.ts';
import type { Connector, OutboundMessage, SendResult } from '../../src/connectors/connector.ts';
import { uuidv7 } from '../../src/ids.ts';

// The contract every connector passes, whatever provider it speaks to. A connector under test gets a
// channel for each platform it claims; providers that cannot run here are faked at the wire by the
// caller (an HTTP/SMTP/SMPP peer on loopback) and reached through `channelConfig`.

export interface ContractSubject {
  name: string;
  connector: () => Connector;
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

    test('declares what it carries on each platform it serves', () => {
      assert.ok(platforms.length > 0, 'serves at least one platform');
      for (const p of platforms) {
        const caps = connector.capabilities(p)!;
        assert.ok(caps.bodyTypes.has('text') || caps.bodyTypes.size > 0);
      }
    });

    for (const platform of platforms) {
      test(`${platform}: sends a text and reports a well-formed result`, async () => {
        const channel = channelFor(platform, connector.type, subject.channelConfig?.(platform));
        const msg = message(channel, subject.receiver(platform), { type: 'text', text: { text: 'contract test' } });
        const r = await connector.send(msg);
        assertWellFormed(r, msg);
        assert.equal(r.ok, true, JSON.stringify(r));
      });
    }

    test('never throws for bodies it may not expect; answers with a result', async () => {
      const platform = platforms[0];
      const channel = channelFor(platform, connector.type, subject.channelConfig?.(platform));
      for (const body of [null, { type: 'text', text: { text: '' } }, { type: 'text', text: { text: '€'.repeat(500) } }]) {
        const msg = message(channel, subject.receiver(platform), body as OutboundMessage['body']);
        assertWellFormed(await connector.send(msg), msg);
      }
    });

    test('the same message sent twice gives the same result (idempotent references)', async () => {
      const platform = platforms[0];
      const channel = channelFor(platform, connector.type, subject.channelConfig?.(platform));
      const msg = message(channel, subject.receiver(platform), { type: 'text', text: { text: 'twice' } });
      assert.deepEqual(await connector.send(msg), await connector.send(msg));
    });
  });
}
