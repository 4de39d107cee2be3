import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { chaosDraw, globMatch } from '../src/connectors/sandbox/chaos.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// Failure injection on demand (PUT /workspaces/{ws}/sandbox/chaos): each action sent end to end
// through the dispatcher and the sandbox provider, the seed's determinism, and the 422s.

const text = (to: string, reference?: string) => ({
  receiver: { contacts: [{ identifierValue: to }] },
  body: { type: 'text', text: { text: 'hello' } },
  ...(reference ? { reference } : {}),
});

test('receiver patterns: * is any run of characters, case is ignored, nothing else is special', () => {
  assert.ok(globMatch('+3161*', '+31612345678'));
  assert.ok(globMatch('*@EXAMPLE.com', 'ann@example.com'));
  assert.ok(globMatch('a*b*c', 'aXXbYYc'));
  assert.ok(!globMatch('a*b*c', 'aXXbYY'));
  assert.ok(!globMatch('+3161*', '+44612345678'));
  assert.ok(!globMatch('ann.smith', 'annXsmith'), 'a dot is a dot');
  assert.ok(globMatch('*', ''));
  // A pattern that makes a backtracking regex explode is answered at once.
  const t0 = performance.now();
  assert.ok(!globMatch('*a*a*a*a*a*a*a*a*b', 'a'.repeat(300)));
  assert.ok(performance.now() - t0 < 50);
});

test('the draw depends on the seed, the rule and the key only', () => {
  assert.equal(chaosDraw('s', 0, 'k'), chaosDraw('s', 0, 'k'));
  assert.notEqual(chaosDraw('s', 0, 'k'), chaosDraw('t', 0, 'k'));
  assert.notEqual(chaosDraw('s', 0, 'k'), chaosDraw('s', 1, 'k'));
  const draws = Array.from({ length: 2000 }, (_, i) => chaosDraw('seed', 0, `m${i}`));
  const below = draws.filter((d) => d < 0.3).length / draws.length;
  assert.ok(below > 0.25 && below < 0.35, `share ${below}`);
});

for (const kind of storeKinds()) {
  describe(`failure injection (${kind})`, () => {
    let t: TestAviary;
    const ws = () => `/workspaces/${t.workspaceId}`;
    const put = (body: unknown) => t.request('PUT', `${ws()}/sandbox/chaos`, body);
    const setRules = async (body: unknown) => {
      const res = await put(body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    };
    const send = async (to: string, channelId = t.channel('sms'), reference?: string) => {
      const res = await t.request('POST', `${ws()}/channels/${channelId}/messages`, text(to, reference));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body;
    };
    const timeline = async (messageId: string) => {
      const rows = await t.aviary.ctx.db.selectFrom('message_status_history').select(['status', 'at']).where('message_id', '=', messageId).orderBy('seq').execute();
      return Object.fromEntries(rows.map((r) => [r.status, new Date(r.at).getTime()]));
    };
    before(async () => {
      t = await startTestAviary(kind, { webhookAllowPrivateUrls: true, webhookRetryBaseMs: 30 });
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    test('PUT replaces the rules, GET lists them, DELETE clears them', async () => {
      assert.deepEqual((await t.request('GET', `${ws()}/sandbox/chaos`)).body, { seed: '', rules: [], updatedAt: null });
      const set = await setRules({ seed: 'run-1', rules: [{ share: 0.5, action: 'fail', code: 15005 }, { action: 'dropReceipts', channelId: t.channel('sms') }] });
      assert.deepEqual(set.rules, [{ action: 'fail', share: 0.5, code: 15005 }, { action: 'dropReceipts', channelId: t.channel('sms') }]);
      const got = (await t.request('GET', `${ws()}/sandbox/chaos`)).body;
      assert.deepEqual(got, set);
      await setRules({ rules: [{ action: 'throttle' }] });
      assert.deepEqual((await t.request('GET', `${ws()}/sandbox/chaos`)).body.rules, [{ action: 'throttle' }]);
      assert.equal((await t.request('DELETE', `${ws()}/sandbox/chaos`)).status, 204);
      assert.deepEqual((await t.request('GET', `${ws()}/sandbox/chaos`)).body.rules, []);
    });

    test('bad rules: 422 naming each JSON path; nothing is stored', async () => {
      const other = await t.request('POST', `${ws()}/channels`, { platform: 'sms', name: 'smpp one', connector: { type: 'smpp', config: { host: '127.0.0.1', port: 1, systemId: 'x', password: 'y' } } });
      const rules = [
        { action: 'fail' },
        { action: 'fail', code: 11001 },
        { action: 'dropReceipts', delayMs: 5 },
        { action: 'delayWebhooks', delayMs: 10, receiver: '+31*' },
        { action: 'delayReceipts', channelId: '0190a0b0-0000-7000-8000-000000000000', delayMs: 1 },
        { action: 'explode' },
        { action: 'fail', code: 15005, retryable: true },
        { action: 'throttle', share: 2 },
        ...(other.status === 201 ? [{ action: 'dropReceipts', channelId: other.body.id }] : []),
      ];
      const res = await put({ rules });
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.code, 'InvalidPayload');
      // The schema's errors come first, alone (the shape must be right before the rest can be checked).
      assert.deepEqual(Object.keys(res.body.details).sort(), ['.rules[1].code', '.rules[5].action', '.rules[7].share']);
      const semantic = await put({ rules: rules.filter((_, i) => ![1, 5, 7].includes(i)) });
      assert.equal(semantic.status, 422);
      assert.deepEqual(semantic.body.details['.rules[0].code'], ['is required for action "fail"']);
      assert.deepEqual(semantic.body.details['.rules[1].delayMs'], ['is not used by action "dropReceipts"']);
      assert.ok(semantic.body.details['.rules[2].receiver']);
      assert.deepEqual(semantic.body.details['.rules[3].channelId'], ['no such channel in this workspace']);
      assert.ok(semantic.body.details['.rules[4].retryable']);
      if (other.status === 201) assert.match(semantic.body.details['.rules[5].channelId'][0], /sandbox channels/);
      assert.equal((await put({ rules: 'all of them' })).status, 422);
      assert.equal((await t.request('PUT', `${ws()}/sandbox/chaos`)).status, 400);
      assert.deepEqual((await t.request('GET', `${ws()}/sandbox/chaos`)).body.rules, []);
    });

    test('fail by receiver pattern: a receipt failure (15005) and a send failure (15002); other receivers untouched', async () => {
      await setRules({ rules: [{ action: 'fail', receiver: '+3161111*', code: 15005 }, { action: 'fail', receiver: '+3162222*', code: 15002 }] });
      const [a, b, c] = await Promise.all([send('+31611110000'), send('+31622220000'), send('+31633330000')]);
      const [da, db, dc] = await Promise.all([t.waitForQuiet(a.id), t.waitForQuiet(b.id), t.waitForQuiet(c.id)]);
      assert.equal(da.status, 'delivery_failed');
      assert.deepEqual(da.failure, { code: 15005, description: 'Unknown subscriber', source: { name: 'sms-messagebird', code: '1' } });
      assert.deepEqual(await t.history(a.id), ['accepted', 'processing', 'sent', 'delivery_failed']);
      assert.equal(db.status, 'sending_failed');
      assert.equal(db.failure.code, 15002);
      const row = await t.aviary.ctx.db.selectFrom('messages').select('attempts').where('id', '=', b.id).executeTakeFirstOrThrow();
      assert.equal(row.attempts, 1, 'a rejection is not retried');
      assert.equal(dc.status, 'delivered');
    });

    test('a channel rule acts on its channel only', async () => {
      await setRules({ rules: [{ action: 'fail', channelId: t.channel('sms'), code: 12003 }] });
      const second = await t.request('POST', `${ws()}/channels`, { platform: 'sms', name: 'second sandbox' });
      assert.equal(second.status, 201, JSON.stringify(second.body));
      const [s, w] = await Promise.all([send('+31612345678'), send('+31612345678', second.body.id)]);
      assert.equal((await t.waitForQuiet(s.id)).failure.code, 12003);
      assert.equal((await t.waitForQuiet(w.id)).status, 'delivered');
    });

    test('a share is picked by the seed: the same messages fail on every run, another seed picks others', async () => {
      const refs = Array.from({ length: 16 }, (_, i) => `order-${i}`);
      const to = '+31612345678';
      // What the rule will pick, computed from the documented key: seed, rule position, reference and receiver.
      const predicted = (seed: string) => refs.filter((r) => chaosDraw(seed, 0, `${r}\0${to}`) < 0.5);
      const run = async (seed: string) => {
        await setRules({ seed, rules: [{ action: 'fail', share: 0.5, code: 15002 }] });
        const sent = await Promise.all(refs.map((r) => send(to, undefined, r)));
        const done = await Promise.all(sent.map((m) => t.waitForQuiet(m.id)));
        return done.filter((m) => m.status === 'sending_failed').map((m) => m.reference).sort();
      };
      const first = await run('replay-me');
      assert.deepEqual(first, predicted('replay-me').sort());
      assert.ok(first.length > 0 && first.length < refs.length, `${first.length} of ${refs.length} failed`);
      await t.reset();
      assert.deepEqual(await run('replay-me'), first, 'replayed exactly');
      await t.reset();
      assert.deepEqual(await run('another'), predicted('another').sort());
    });

    test('delayReceipts, dropReceipts and duplicateReceipts reshape the receipts', async () => {
      await setRules({
        rules: [
          { action: 'delayReceipts', receiver: '+3161*', delayMs: 400 },
          { action: 'duplicateReceipts', receiver: '+3161*', copies: 3 },
          { action: 'dropReceipts', receiver: '+3162*' },
        ],
      });
      const [late, dropped] = await Promise.all([send('+31611110000'), send('+31622220000')]);
      await t.waitForStatus(late.id, 'sent');
      const scheduled = await t.aviary.ctx.db.selectFrom('connector_events').select(['kind', 'due_at']).where('message_id', '=', late.id).execute();
      assert.equal(scheduled.length, 3, 'three copies of the receipt');
      const done = await t.waitForQuiet(late.id);
      assert.equal(done.status, 'delivered');
      assert.deepEqual(await t.history(late.id), ['accepted', 'processing', 'sent', 'delivered'], 'the copies are applied once');
      const at = await timeline(late.id);
      assert.ok(at.delivered - at.sent >= 400, `delivered ${at.delivered - at.sent} ms after sent`);
      const d = await t.waitForQuiet(dropped.id);
      assert.equal(d.status, 'sent', 'no receipt ever came');
    });

    test('throttle: the first attempts are throttled with Retry-After, then it goes through', async () => {
      await setRules({ rules: [{ action: 'throttle', attempts: 2, retryAfterMs: 150 }] });
      const m = await send('+31612345678');
      const done = await t.waitForQuiet(m.id);
      assert.equal(done.status, 'delivered');
      const row = await t.aviary.ctx.db.selectFrom('messages').select('attempts').where('id', '=', m.id).executeTakeFirstOrThrow();
      assert.equal(row.attempts, 3);
      const at = await timeline(m.id);
      assert.ok(at.sent - at.accepted >= 300, `sent ${at.sent - at.accepted} ms after accepted: two Retry-Afters of 150 ms`);
    });

    test('delayWebhooks holds back the workspace\'s webhook deliveries', async () => {
      const got: { at: number; event: string }[] = [];
      const server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c)).on('end', () => {
          got.push({ at: Date.now(), event: JSON.parse(body).event });
          res.end('ok');
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const port = (server.address() as { port: number }).port;
        const sub = await t.request('POST', `/organizations/${t.organizationId}/workspaces/${t.workspaceId}/webhook-subscriptions`, {
          service: 'channels',
          event: 'sms.outbound',
          url: `http://127.0.0.1:${port}/hook`,
        });
        assert.equal(sub.status, 201, JSON.stringify(sub.body));
        await setRules({ rules: [{ action: 'delayWebhooks', delayMs: 600 }] });
        const m = await send('+31612345678');
        await t.waitForQuiet(m.id);
        const deliveries = await t.aviary.ctx.db.selectFrom('webhook_deliveries').select(['created_at', 'attempts']).execute();
        assert.ok(deliveries.length >= 1);
        const deadline = Date.now() + 10_000;
        while (got.length < deliveries.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        const first = await t.aviary.ctx.db.selectFrom('webhook_deliveries').select(['created_at', 'attempts']).orderBy('seq').executeTakeFirstOrThrow();
        const attempt = (first.attempts as { at: string }[])[0];
        assert.ok(attempt, 'delivered');
        const heldMs = new Date(attempt.at).getTime() - new Date(first.created_at).getTime();
        assert.ok(heldMs >= 600, `first attempt ${heldMs} ms after the event`);
        // Cleared: the next event goes out at once.
        assert.equal((await t.request('DELETE', `${ws()}/sandbox/chaos`)).status, 204);
        const before = got.length;
        const sentAt = Date.now();
        await send('+31612345679');
        while (got.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        assert.ok(got[before].at - sentAt < 600, `delivered ${got[before].at - sentAt} ms after the send`);
      } finally {
        server.close();
      }
    });
  });
}
