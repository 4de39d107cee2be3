import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { smscOptions } from '../src/cli/smsc-command.ts';
import { SmppConnector } from '../src/connectors/smpp/smpp-connector.ts';
import { ConfigError } from '../src/config.ts';
import { uuidv7 } from '../src/ids.ts';
import { channelFor } from './support/connector-contract.ts';
import { testContext } from './support/smtp-context.ts';

// `aviary smsc` as a user runs it: a real process on a port, an SMPP channel's session binding to it
// with the account given by flags, a receipt with the stat asked for, and a clean stop on SIGTERM.

const BIN = new URL('../bin/aviary.js', import.meta.url).pathname;

test('aviary smsc: binds with the given account, answers with hex ids, receipts as asked, stops on SIGTERM', async () => {
  const child = spawn(process.execPath, [BIN, 'smsc', '--port', '0', '--system-id', 'demo', '--password', 'pw', '--id-format', 'hex', '--receipt-stat', 'EXPIRED', '--nack', '^3160000001$=0x0B', '--log-level', 'info'], {
    env: { ...process.env },
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "smsc ready" line: ${out}`)), 15_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"port":(\d+)[^\n]*"msg":"smsc ready"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const ctx = testContext();
  const channel = channelFor('sms', 'smpp', { host: '127.0.0.1', port, systemId: 'demo', password: 'pw' });
  const session = await new SmppConnector().open(channel, ctx.ctx);
  const message = (to: string) => ({
    id: uuidv7(), workspaceId: channel.workspaceId, channel, platform: 'sms' as const, sender: 'Aviary',
    recipients: [{ contactId: uuidv7(), identifierKey: 'phonenumber', identifierValue: to, platformAddress: to }],
    body: { type: 'text', text: { text: 'hi from the cli test' } }, template: null, meta: null, reference: null, attempt: 1,
  });
  try {
    const r = await session.send(message('+31612345678'), AbortSignal.timeout(5000));
    assert.ok(r.ok, JSON.stringify(r));
    assert.match(r.parts[0].platformReference, /^[0-9a-f]+$/);
    const e = await ctx.next((ev) => ev.kind === 'receipt');
    assert.ok(e.kind === 'receipt' && e.status === 'delivery_failed' && e.failure?.code === 15004, JSON.stringify(e));
    assert.equal(e.reference, r.parts[0].platformReference);
    const nack = await session.send(message('+3160000001'), AbortSignal.timeout(5000));
    assert.ok(!nack.ok && nack.failure.source.code === '0x0B', JSON.stringify(nack));
  } finally {
    await session.close();
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
  assert.match(out, /"msg":"smsc bound"/);
  assert.match(out, /"msg":"smsc unbind"/);
});

test('aviary smsc: bad flags are usage errors naming the flag', () => {
  const args = (flags: Record<string, string>) => ({ positional: [], flags: new Map(Object.entries(flags)) });
  assert.throws(() => smscOptions(args({ '--throttle-share': '2' })), (e: Error) => e instanceof ConfigError && /--throttle-share/.test(e.message));
  assert.throws(() => smscOptions(args({ '--receipt-stat': 'GONE' })), (e: Error) => e instanceof ConfigError && /--receipt-stat/.test(e.message));
  assert.throws(() => smscOptions(args({ '--nack': 'nostatus' })), (e: Error) => e instanceof ConfigError && /--nack/.test(e.message));
  assert.throws(() => smscOptions(args({ '--colour': 'red' })), (e: Error) => e instanceof ConfigError && /--colour/.test(e.message));
  const ok = smscOptions(args({ '--nack': '^31=0x0B,^44=0x45', '--throttle-share': '0.1', '--no-receipts': 'true' }));
  assert.deepEqual(ok.faults.nacks, [{ pattern: '^31', status: 0x0b }, { pattern: '^44', status: 0x45 }]);
  assert.deepEqual(ok.faults.throttle, { share: 0.1 });
  assert.equal(ok.faults.receipts?.enabled, false);
  assert.equal(ok.port, 2775);
});
