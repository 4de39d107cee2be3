import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { PLATFORMS, type Platform } from '../src/channels/platforms.ts';
import { createConnectorRegistry } from '../src/connectors/registry.ts';
import { SandboxConnector } from '../src/connectors/sandbox/sandbox-connector.ts';
import { SCENARIOS, scenarioFor } from '../src/connectors/sandbox/scenarios.ts';
import { smsSegments } from '../src/connectors/sms-segments.ts';
import { SmppConnector } from '../src/connectors/smpp/smpp-connector.ts';
import { SmtpConnector } from '../src/connectors/smtp/smtp-connector.ts';
import { startSmppPeer } from './support/smpp-peer.ts';
import { startSmtpPeer } from './support/smtp-peer.ts';
import { connectorContract } from './support/connector-contract.ts';

const receiver = (platform: Platform) => {
  const key = PLATFORMS[platform].identifierKey;
  return { identifierKey: key, identifierValue: key === 'phonenumber' ? '+31612345678' : key === 'emailaddress' ? 'ann@example.com' : 'user-123' };
};

connectorContract({ name: 'sandbox', connector: () => new SandboxConnector(), receiver, validConfig: { receiptDelayMs: 5 } });

// SMTP against an in-process relay that scripts replies per recipient (test/support/smtp-peer.ts).
const smtpPeer = await startSmtpPeer();
after(() => smtpPeer.close());
connectorContract({
  name: 'smtp',
  connector: () => new SmtpConnector(smtpPeer.connectorOptions),
  peer: () => smtpPeer,
  channelConfig: () => smtpPeer.config,
  receiver: () => smtpPeer.receiver('ok'),
});

// SMPP against the SMSC simulator (src/smsc/), scripted per destination (test/support/smpp-peer.ts).
const smppPeer = await startSmppPeer();
after(() => smppPeer.close());
connectorContract({
  name: 'smpp',
  connector: () => new SmppConnector(),
  peer: () => smppPeer,
  channelConfig: () => smppPeer.config,
  receiver: () => smppPeer.receiver('ok'),
});

test('every registered connector is covered by the contract suite', () => {
  // Adding a connector to the registry without a connectorContract(...) call above fails here.
  assert.deepEqual([...createConnectorRegistry().keys()].sort(), ['sandbox', 'smpp', 'smtp']);
});

test('sandbox scenarios: each magic number maps to its scenario, everything else delivers', () => {
  for (const s of SCENARIOS) {
    assert.equal(scenarioFor('phonenumber', `+3161234${s.digits}`, 'sms'), s.name);
    assert.equal(scenarioFor('emailaddress', `ann+${s.name}@example.com`, 'email'), s.name);
  }
  assert.equal(scenarioFor('phonenumber', '+31612345678', 'sms'), 'delivered');
});

test('SMS segments: GSM-7 160/153, UCS-2 70/67, extension characters count twice', () => {
  assert.deepEqual([smsSegments('a'.repeat(160)).count, smsSegments('a'.repeat(161)).count], [1, 2]);
  assert.equal(smsSegments('a'.repeat(306)).count, 2);
  assert.equal(smsSegments('a'.repeat(307)).count, 3);
  assert.equal(smsSegments('€'.repeat(80)).encoding, 'GSM-7');
  assert.equal(smsSegments('€'.repeat(80)).count, 1); // 160 septets
  assert.equal(smsSegments('€'.repeat(81)).count, 2);
  assert.equal(smsSegments('ж'.repeat(70)).count, 1);
  assert.equal(smsSegments('ж'.repeat(71)).encoding, 'UCS-2');
  assert.equal(smsSegments('ж'.repeat(71)).count, 2);
  assert.equal(smsSegments('ж'.repeat(134)).count, 2);
  assert.equal(smsSegments('ж'.repeat(135)).count, 3);
  // An emoji is two UTF-16 units and never split across parts.
  const parts = smsSegments('😀'.repeat(40)).parts;
  assert.ok(parts.every((p) => !/[\uD800-\uDBFF]$/.test(p)));
  assert.equal(parts.join(''), '😀'.repeat(40));
});
