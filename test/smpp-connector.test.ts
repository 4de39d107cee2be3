import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { OutboundMessage, ProviderEvent, SendResult } from '../src/connectors/connector.ts';
import { SmppConnector } from '../src/connectors/smpp/smpp-connector.ts';
import { GSM_EXTENDED } from '../src/connectors/sms-segments.ts';
import type { FaultChange } from '../src/smsc/faults.ts';
import { startSmsc, type SmscOptions } from '../src/smsc/simulator.ts';
import { uuidv7 } from '../src/ids.ts';
import { channelFor } from './support/connector-contract.ts';
import { SMPP_ACCOUNT } from './support/smpp-peer.ts';
import { testContext } from './support/smtp-context.ts';

// The SMPP connector against the SMSC simulator on loopback: every fault the simulator injects is
// one an SMSC really shows (throttling, NACKs, receipts late, twice, early or per part, dropped links).

const TO = '+31612345678';

async function setup(t: TestContext, opts: { sim?: SmscOptions; faults?: FaultChange; config?: Record<string, unknown> } = {}) {
  const sim = await startSmsc({ accounts: [SMPP_ACCOUNT], ...opts.sim, faults: opts.faults });
  const ctx = testContext();
  const channel = channelFor('sms', 'smpp', { host: '127.0.0.1', port: sim.port, ...SMPP_ACCOUNT, ...opts.config });
  const session = await new SmppConnector().open(channel, ctx.ctx);
  t.after(async () => {
    await session.close();
    await sim.close();
  });
  const message = (text: string | null, to = TO): OutboundMessage => ({
    id: uuidv7(),
    workspaceId: channel.workspaceId,
    channel,
    platform: 'sms',
    sender: '+15550100001',
    recipients: [{ contactId: uuidv7(), identifierKey: 'phonenumber', identifierValue: to, platformAddress: to }],
    body: text === null ? null : { type: 'text', text: { text } },
    template: null,
    meta: null,
    reference: null,
    attempt: 1,
  });
  const send = (text: string, to = TO, timeoutMs = 5000) => session.send(message(text, to), AbortSignal.timeout(timeoutMs));
  return { sim, ctx, channel, session, send };
}

function ok(r: SendResult): Extract<SendResult, { ok: true }> {
  assert.equal(r.ok, true, JSON.stringify(r));
  return r as Extract<SendResult, { ok: true }>;
}

function failed(r: SendResult): Extract<SendResult, { ok: false }> {
  assert.equal(r.ok, false, JSON.stringify(r));
  return r as Extract<SendResult, { ok: false }>;
}

const receipts = (events: ProviderEvent[]) => events.filter((e): e is Extract<ProviderEvent, { kind: 'receipt' }> => e.kind === 'receipt');
const inbound = (events: ProviderEvent[]) => events.filter((e): e is Extract<ProviderEvent, { kind: 'inbound' }> => e.kind === 'inbound');

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SMPP connector: bind', () => {
  test('a wrong password or system id fails sends for good as an invalid channel configuration', async (t) => {
    for (const [config, code] of [[{ password: 'wrong' }, '0x0E'], [{ systemId: 'nobody' }, '0x0F']] as const) {
      const { send, sim } = await setup(t, { config });
      const started = Date.now();
      const r = failed(await send('hello'));
      assert.ok(Date.now() - started < 2000, 'fails at the refusal, not at the send timeout');
      assert.equal(r.retryable, false);
      assert.equal(r.failure.code, 11001);
      assert.deepEqual(r.failure.source, { name: 'sms-messagebird', code });
      assert.equal(sim.submits.length, 0);
      assert.ok(sim.counts.bindFailures >= 1);
    }
  });

  test('transmitter + receiver binds: submits on one, receipts on the other', async (t) => {
    const { send, sim, ctx } = await setup(t, { config: { bindMode: 'transmitter-receiver' } });
    const r = ok(await send('two links'));
    assert.deepEqual(sim.binds().map((b) => b.mode).sort(), ['receiver', 'transmitter']);
    const e = await ctx.next((ev) => ev.kind === 'receipt');
    assert.equal(e.kind === 'receipt' && e.reference, r.parts[0].platformReference);
  });

  test('enquire_link keeps the link alive; close unbinds', async (t) => {
    const { send, sim, session } = await setup(t, { config: { enquireLinkSeconds: 0.05 } });
    ok(await send('hi'));
    await until(() => sim.counts.enquireLinks >= 3, 'three enquire_link');
    await session.close();
    assert.equal(sim.counts.unbinds, 1);
    await until(() => sim.binds().length === 0, 'the link to close');
    assert.equal(sim.counts.binds, 1, 'one bind all along');
  });
});

describe('SMPP connector: submit_sm', () => {
  test('GSM-7 as data_coding 0, anything else as UCS-2; registered_delivery set', async (t) => {
    const { send, sim } = await setup(t);
    ok(await send('Hello {world} €5 @home'));
    ok(await send('Привет 😀'));
    assert.deepEqual(sim.submits.map((s) => [s.dataCoding, s.text]), [[0, 'Hello {world} €5 @home'], [8, 'Привет 😀']]);
    assert.ok(sim.submits.every((s) => s.registeredDelivery === 1 && s.destination === '31612345678' && s.source === '15550100001'));
  });

  test('Latin-1 when configured and the text fits it', async (t) => {
    const { send, sim } = await setup(t, { config: { dataCoding: 'latin1' } });
    ok(await send('Größe à la carte: ÿ'));
    assert.deepEqual(sim.submits.map((s) => [s.dataCoding, s.text]), [[3, 'Größe à la carte: ÿ']]);
  });

  for (const concatenation of ['udh8', 'udh16', 'sar'] as const) {
    test(`a long text in parts (${concatenation}): extension characters never split, one reference per part, units = parts`, async (t) => {
      const { send, sim } = await setup(t, { config: { concatenation } });
      // An extension character (two septets) right where the first part is full.
      const size = concatenation === 'udh16' ? 152 : 153;
      const text = `${'a'.repeat(size - 1)}€${'b'.repeat(200)}[end]`;
      const r = ok(await send(text));
      const subs = sim.submits;
      assert.equal(subs.length, 3);
      assert.equal(r.chargeableUnits, 3);
      assert.deepEqual(r.parts.map((p) => p.platformReference), subs.map((s) => s.messageId));
      assert.equal(new Set(r.parts.map((p) => p.platformReference)).size, 3);
      assert.equal(subs.map((s) => s.text).join(''), text);
      assert.equal(subs[0].text, 'a'.repeat(size - 1), 'the € went to the next part whole');
      assert.ok(subs.every((s) => ![...GSM_EXTENDED].some((ch) => s.text.endsWith('\u001b') || s.text === ch)));
      assert.deepEqual(subs.map((s) => [s.concat?.via, s.concat?.total, s.concat?.seq]), [1, 2, 3].map((seq) => [concatenation === 'sar' ? 'sar' : 'udh', 3, seq]));
      assert.equal(new Set(subs.map((s) => s.concat?.ref)).size, 1, 'one reference for the message');
      if (concatenation === 'udh16') assert.ok(subs[0].esmClass & 0x40);
      // A second long message gets another concatenation reference.
      ok(await send(text));
      assert.notEqual(sim.submits[3].concat?.ref, subs[0].concat?.ref);
    });
  }

  test('a long UCS-2 text in parts of 67 units, never splitting a surrogate pair', async (t) => {
    const { send, sim } = await setup(t);
    const text = `${'ж'.repeat(66)}😀${'ж'.repeat(10)}`;
    const r = ok(await send(text));
    assert.equal(r.chargeableUnits, 2);
    assert.deepEqual(sim.submits.map((s) => s.text), ['ж'.repeat(66), `😀${'ж'.repeat(10)}`]);
  });

  test('message_payload: one PDU the SMSC splits, billed as its segments', async (t) => {
    const { send, sim } = await setup(t, { config: { concatenation: 'payload' } });
    const text = 'x'.repeat(400);
    const r = ok(await send(text));
    assert.equal(sim.submits.length, 1);
    assert.equal(sim.submits[0].payload, true);
    assert.equal(sim.submits[0].text, text);
    assert.equal(r.parts.length, 1);
    assert.equal(r.chargeableUnits, 3);
  });

  test('submit_sm_resp errors map to Bird failures, retryable or not, naming the connector and the status', async (t) => {
    const { send } = await setup(t, {
      faults: {
        nacks: [
          { pattern: '^31600000011$', status: 0x0b },
          { pattern: '^31600000008$', status: 0x08 },
          { pattern: '^31600000045$', status: 0x45 },
          { pattern: '^31600000010$', status: 0x0a },
          { pattern: '^31600000066$', status: 0x66 },
        ],
      },
    });
    const cases: [string, boolean, number, string][] = [
      ['+31600000011', false, 12003, '0x0B'],
      ['+31600000008', true, 15001, '0x08'],
      ['+31600000045', true, 15001, '0x45'],
      ['+31600000010', false, 11001, '0x0A'],
      ['+31600000066', false, 15002, '0x66'],
    ];
    for (const [to, retryable, code, status] of cases) {
      const r = failed(await send('x', to));
      assert.equal(r.retryable, retryable, to);
      assert.equal(r.failure.code, code, to);
      assert.deepEqual(r.failure.source, { name: 'sms-messagebird', code: status });
      assert.ok(r.details?.includes(status));
    }
  });

  test('throttling pauses the session and retries: the message is sent, not failed', async (t) => {
    const { send, sim } = await setup(t, { faults: { throttle: { count: 3, status: 0x58 } } });
    const started = Date.now();
    const r = ok(await send('slow down'));
    assert.ok(Date.now() - started >= 600, 'backed off 100 + 200 + 400 ms');
    assert.deepEqual(sim.submits.map((s) => s.status), [0x58, 0x58, 0x58, 0]);
    assert.equal(r.parts[0].platformReference, sim.submits[3].messageId);
    // A share of ESME_RMSGQFUL under a burst of messages: all of them go through.
    sim.setFaults({ throttle: { status: 0x14, share: 0.25 } });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => send(`burst ${i}`)));
    results.forEach(ok);
    assert.ok(sim.submits.filter((s) => s.status === 0x14).length >= 3);
  });

  test('throttled until the send times out: a throttled result, which spends no attempt', async (t) => {
    const { send } = await setup(t, { faults: { throttle: { count: 1000 } } });
    // Submits go out at about 0, 100, 300, 700 and 1,500 ms (the pause doubles from 100 ms). The
    // timeout falls 400 ms into the 800 ms pause, so it finds the session paused, not a submit in
    // flight (which would be an unknown outcome: retryable, not throttled), even on a loaded host.
    const r = failed(await send('never', TO, 1_100));
    assert.equal(r.throttled, true);
    assert.equal(r.retryable, true);
  });

  test('throughputPerSecond paces the submits', async (t) => {
    const { send, sim } = await setup(t, { config: { throughputPerSecond: 20 } });
    const started = Date.now();
    await Promise.all(Array.from({ length: 6 }, (_, i) => send(`paced ${i}`)));
    assert.ok(Date.now() - started >= 240, `6 submits at 20/s take 250 ms, took ${Date.now() - started}`);
    assert.equal(sim.submits.length, 6);
  });

  test('the window bounds the submit_sm outstanding at once', async (t) => {
    const { send, sim } = await setup(t, { config: { windowSize: 3 }, faults: { responseDelayMs: 50 } });
    let most = 0;
    const timer = setInterval(() => {
      most = Math.max(most, sim.submits.filter((s) => s.status === undefined).length);
    }, 2);
    await Promise.all(Array.from({ length: 9 }, (_, i) => send(`w ${i}`)));
    clearInterval(timer);
    assert.ok(most <= 3 && most >= 2, `at most 3 outstanding, saw ${most}`);
  });

  test('a link dropped mid-traffic: reconnects with backoff, resubmits the unanswered parts, loses nothing', async (t) => {
    const { send, sim } = await setup(t, { faults: { responseDelayMs: 50, dropAfterSubmits: 4 } });
    const results = (await Promise.all(Array.from({ length: 8 }, (_, i) => send(`m${i}`, `+3161234560${i}`)))).map(ok);
    assert.equal(sim.counts.drops, 1);
    assert.equal(sim.counts.binds, 2, 'bound again after the drop');
    const answered = sim.submits.filter((s) => s.messageId);
    assert.equal(answered.length, 8, 'each message answered once');
    for (const [i, r] of results.entries()) {
      assert.equal(r.parts[0].platformReference, answered.find((s) => s.destination === `3161234560${i}`)?.messageId);
    }
    assert.ok(sim.submits.length > 8, 'the unanswered ones were submitted again');
    // Dropped while idle: bound again, and sends go on.
    sim.dropLinks();
    await until(() => sim.counts.binds === 3, 'a third bind');
    ok(await send('after'));
  });
});

describe('SMPP connector: receipts', () => {
  test('text and TLV receipts map every stat to a receipt event by reference', async (t) => {
    const { send, sim, ctx } = await setup(t, { config: { receiptSettles: 'last' } });
    const cases = [
      ['DELIVRD', '000', 'delivered', undefined],
      ['UNDELIV', '000', 'delivery_failed', 15001],
      ['UNDELIV', '001', 'delivery_failed', 15005],
      ['EXPIRED', '000', 'delivery_failed', 15004],
      ['REJECTD', '000', 'delivery_failed', 15002],
      ['DELETED', '000', 'delivery_failed', 15001],
      ['UNKNOWN', '000', 'delivery_failed', 15001],
      ['ACCEPTD', '000', 'sent', undefined],
      ['ENROUTE', '000', 'sent', undefined],
    ] as const;
    for (const carrier of ['text', 'tlv', 'both'] as const) {
      for (const [stat, err, status, code] of cases) {
        sim.setFaults({ receipts: { stat, err, carrier } });
        const r = ok(await send(`${stat} ${carrier}`));
        const ref = r.parts[0].platformReference;
        const e = (await ctx.next((ev) => ev.kind === 'receipt' && ev.reference === ref)) as Extract<ProviderEvent, { kind: 'receipt' }>;
        assert.equal(e.status, status, `${stat} via ${carrier}`);
        assert.equal(e.settles, 'last');
        assert.equal(e.failure?.code, code, `${stat} err ${err} via ${carrier}`);
        if (e.failure) assert.equal(e.failure.source.name, 'sms-messagebird');
        assert.match(e.details ?? '', new RegExp(`stat:${stat}`));
      }
    }
    await until(() => sim.deliveries.every((d) => d.answers.length === 1), 'every deliver_sm answered');
    assert.ok(sim.deliveries.every((d) => d.answers[0] === 0), 'every deliver_sm answered ESME_ROK');
  });

  test('hex receipt ids match decimal submit ids, and decimal receipts match hex ids', async (t) => {
    const hex = await setup(t, { config: { receiptIdFormat: 'hex' }, faults: { receipts: { idFormat: 'hex', carrier: 'text' } } });
    const r1 = ok(await hex.send('hex receipt'));
    assert.match(r1.parts[0].platformReference, /^\d+$/);
    const e1 = await hex.ctx.next((ev) => ev.kind === 'receipt');
    assert.equal(e1.kind === 'receipt' && e1.reference, r1.parts[0].platformReference);
    assert.match(String(hex.sim.deliveries[0].fields.short_message), /^id:[0-9a-f]+ /);

    const dec = await setup(t, { sim: { messageIdFormat: 'hex' }, config: { receiptIdFormat: 'decimal' }, faults: { receipts: { idFormat: 'decimal' } } });
    const r2 = ok(await dec.send('decimal receipt'));
    assert.match(r2.parts[0].platformReference, /^[0-9A-F]+$/);
    const e2 = await dec.ctx.next((ev) => ev.kind === 'receipt');
    assert.equal(e2.kind === 'receipt' && e2.reference, r2.parts[0].platformReference);
  });

  test('duplicated, early (before submit_sm_resp) and late receipts are all reported and answered', async (t) => {
    const { send, sim, ctx } = await setup(t, { faults: { receipts: { duplicate: true } } });
    const r = ok(await send('twice'));
    await until(() => receipts(ctx.events).length === 2, 'two receipts');
    assert.deepEqual(receipts(ctx.events).map((e) => e.reference), [r.parts[0].platformReference, r.parts[0].platformReference]);

    sim.setFaults({ receipts: { duplicate: false, beforeResponse: true } });
    let resolvedWith = -1;
    const early = send('early').then((x) => {
      resolvedWith = receipts(ctx.events).length;
      return x;
    });
    const r2 = ok(await early);
    assert.equal(resolvedWith, 3, 'the receipt was reported before the send returned');
    assert.equal(receipts(ctx.events)[2].reference, r2.parts[0].platformReference);

    sim.setFaults({ receipts: { beforeResponse: false, delayMs: 300 } });
    const r3 = ok(await send('late'));
    assert.equal(receipts(ctx.events).length, 3, 'not yet');
    const e3 = await ctx.next((ev) => ev.kind === 'receipt' && ev.reference === r3.parts[0].platformReference);
    assert.equal(e3.kind, 'receipt');
    await until(() => sim.deliveries.every((d) => d.answers.length > 0), 'every deliver_sm answered');
    assert.ok(sim.deliveries.every((d) => d.answers[0] === 0));
  });

  test('per-part receipts: all parts, only the first, only the last; a missing share is just missing', async (t) => {
    const { send, sim, ctx } = await setup(t, { faults: { receipts: { parts: 'all' } } });
    const long = 'z'.repeat(400);
    const all = ok(await send(long));
    await until(() => receipts(ctx.events).length === 3, 'three part receipts');
    assert.deepEqual(receipts(ctx.events).map((e) => e.reference).sort(), all.parts.map((p) => p.platformReference).sort());

    for (const [parts, index] of [['first', 0], ['last', 2]] as const) {
      sim.setFaults({ receipts: { parts } });
      const r = ok(await send(long));
      const e = await ctx.next((ev) => ev.kind === 'receipt' && r.parts.some((p) => p.platformReference === ev.reference));
      assert.equal(e.kind === 'receipt' && e.reference, r.parts[index].platformReference, parts);
    }
    sim.setFaults({ receipts: { parts: 'all', missingShare: 0.5 } });
    const before = sim.deliveries.length;
    await Promise.all(Array.from({ length: 4 }, (_, i) => send(`maybe ${i}`)));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sim.deliveries.length - before, 2, 'half of the receipts never came');
  });

  test('a receipt that cannot be stored is refused temporarily, redelivered, then stored', async (t) => {
    const { send, sim, ctx } = await setup(t);
    ctx.setFailReport(true);
    const r = ok(await send('store me'));
    await until(() => sim.deliveries[0]?.answers.length === 1, 'the first answer');
    assert.equal(sim.deliveries[0].answers[0], 0x64, 'ESME_RX_T_APPN: try again');
    ctx.setFailReport(false);
    const e = await ctx.next((ev) => ev.kind === 'receipt');
    assert.equal(e.kind === 'receipt' && e.reference, r.parts[0].platformReference);
    await until(() => sim.deliveries[0].answers.length === 2, 'the second answer');
    assert.deepEqual(sim.deliveries[0].answers, [0x64, 0]);
  });
});

describe('SMPP connector: mobile-originated', () => {
  test('a plain MO becomes an inbound event from the phone number', async (t) => {
    const { sim, ctx, send } = await setup(t);
    ok(await send('bind first'));
    const [d] = await sim.sendMo({ from: '+31698765432', to: '+15550100001', text: 'Hi there €' });
    const e = inbound(ctx.events)[0];
    assert.deepEqual(e.contact, { identifierKey: 'phonenumber', identifierValue: '+31698765432' });
    assert.deepEqual(e.body, { type: 'text', text: { text: 'Hi there €' } });
    assert.equal(e.part, undefined);
    assert.deepEqual(d.answers, [0]);
  });

  for (const concatenation of ['udh8', 'udh16', 'sar'] as const) {
    test(`a concatenated MO (${concatenation}) arrives as parts with one key, every part answered`, async (t) => {
      const { sim, ctx, send } = await setup(t);
      ok(await send('bind first'));
      const text = `${'Long reply '.repeat(30)}ü`;
      const ds = await sim.sendMo({ from: '+31698765432', to: '+15550100001', text, concatenation });
      const parts = inbound(ctx.events).map((e) => e.part!);
      assert.equal(parts.length, 3);
      assert.ok(parts.every((p) => p && p.total === 3 && p.key === parts[0].key));
      assert.deepEqual(parts.map((p) => p.seq).sort(), [1, 2, 3]);
      assert.equal([...parts].sort((a, b) => a.seq - b.seq).map((p) => p.text).join(''), text);
      assert.ok(ds.every((d) => d.answers.length === 1 && d.answers[0] === 0));
      // Another message from the same number gets another key.
      await sim.sendMo({ from: '+31698765432', to: '+15550100001', text, concatenation });
      assert.notEqual(inbound(ctx.events)[3].part!.key, parts[0].key);
    });
  }
});
