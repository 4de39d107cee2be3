import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createAccessKey } from '../src/auth/access-keys.ts';
import { VirtualClock } from '../src/virtual-clock.ts';
import { retryDelayMs } from '../src/webhooks/worker.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// The virtual clock (--clock virtual): time stands still until POST /sandbox/clock moves it, and what
// falls due on the way happens in order, at its own (virtual) time. Each scenario spans hours of
// virtual time and is checked in a second or so of real time.

const HOUR = 3_600_000;
const WEBHOOKS = { webhookRetryBaseMs: 10_000, webhookRetryMaxDelayMs: HOUR, webhookRetryWindowMs: 8 * HOUR };

for (const kind of storeKinds()) {
  describe(`virtual clock (${kind})`, () => {
    let t: TestAviary;
    let clock: VirtualClock;
    let failing: http.Server;
    let hits: number[] = [];
    const ws = () => `/workspaces/${t.workspaceId}`;
    const move = async (body: unknown) => {
      const res = await t.request('POST', '/sandbox/clock', body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body as { mode: string; now: string; stops: number };
    };
    const send = async (platform: string, body: Record<string, unknown>) => {
      const res = await t.request('POST', `${ws()}/channels/${t.channel(platform)}/messages`, body);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body as { id: string; createdAt: string };
    };
    const sms = (to: string, extra: Record<string, unknown> = {}) => ({ receiver: { contacts: [{ identifierValue: to }] }, body: { type: 'text', text: { text: 'hi' } }, ...extra });
    const message = async (id: string) => (await t.request('GET', `${ws()}/messages/${id}`)).body;
    const history = async (id: string) =>
      (
        await sql<{ status: string; at: Date }>`select status, at from message_status_history where workspace_id = ${t.workspaceId} and message_id = ${id} order by at, status`.execute(t.aviary.ctx.db)
      ).rows.map((r) => [r.status, r.at.getTime()] as const);

    before(async () => {
      // Retries a second apart, as in production (the harness's default is 1 ms).
      t = await startTestAviary(kind, { clock: 'virtual', dispatchRetryBaseMs: 1_000, ...WEBHOOKS });
      clock = t.aviary.ctx.clock as VirtualClock;
      failing = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          hits.push(Date.now());
          res.writeHead(500).end('down');
        });
      });
      await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    });
    after(async () => {
      await t.close();
      failing.closeAllConnections();
      await new Promise((r) => failing.close(r));
    });
    beforeEach(async () => {
      await t.reset();
      hits = [];
    });

    test('time stands still until it is moved; GET and POST /sandbox/clock', async () => {
      const before = await t.request('GET', '/sandbox/clock');
      assert.equal(before.status, 200);
      assert.equal(before.body.mode, 'virtual');
      await new Promise((r) => setTimeout(r, 30));
      assert.equal((await t.request('GET', '/sandbox/clock')).body.now, before.body.now, 'no real time passes on a virtual clock');
      const moved = await move({ advanceBy: '90m' });
      assert.equal(Date.parse(moved.now) - Date.parse(before.body.now), 90 * 60_000);
      const to = new Date(Date.parse(moved.now) + 1234).toISOString();
      assert.equal((await move({ to })).now, to);
      assert.equal((await move({ advanceBy: 500 })).now, new Date(Date.parse(to) + 500).toISOString(), 'a number is milliseconds');
    });

    test('bad moves are clear 4xx errors, and the clock stays where it was', async () => {
      const at = (await t.request('GET', '/sandbox/clock')).body.now;
      for (const [body, field] of [
        [{ advanceBy: 'soon' }, '.advanceBy'],
        [{ advanceBy: '-1h' }, '.advanceBy'],
        [{ advanceBy: '20000 years' }, '.advanceBy'],
        [{ to: '2000-01-01T00:00:00Z' }, '.to'],
        [{ to: 'tomorrow' }, '.to'],
      ] as const) {
        const res = await t.request('POST', '/sandbox/clock', body);
        assert.equal(res.status, 422, JSON.stringify(body));
        assert.equal(res.body.code, 'InvalidPayload');
        assert.ok(res.body.details[field], `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      }
      for (const body of [{}, { advanceBy: '1h', to: at }, { later: '1h' }]) assert.equal((await t.request('POST', '/sandbox/clock', body)).status, 422, JSON.stringify(body));
      assert.equal((await t.request('POST', '/sandbox/clock')).status, 400);
      const bound = await createAccessKey(t.aviary.ctx.db, { organizationId: t.organizationId, workspaceId: t.workspaceId, name: 'one workspace' });
      assert.equal((await t.request('POST', '/sandbox/clock', { advanceBy: '1h' }, { authorization: `AccessKey ${bound.key}` })).status, 403);
      assert.equal((await t.request('GET', '/sandbox/clock', undefined, { authorization: 'AccessKey nope' })).status, 401);
      assert.equal((await t.request('GET', '/sandbox/clock')).body.now, at);
    });

    test('a scheduled message goes out when the clock reaches its time, and its receipt when the clock reaches that', async () => {
      const start = clock.now().getTime();
      const scheduledFor = new Date(start + 2 * HOUR).toISOString();
      const m = await send('sms', sms('+31612345678', { scheduledFor }));
      assert.equal(Date.parse(m.createdAt), start, 'stamped with the virtual time');
      const real = Date.now();
      await move({ advanceBy: '119m' });
      assert.equal((await message(m.id)).status, 'scheduled');
      const moved = await move({ advanceBy: '1m' });
      assert.equal((await message(m.id)).status, 'sent', 'sent at its time; the receipt is 100 ms later');
      assert.ok(moved.stops >= 0);
      await move({ advanceBy: '1s' });
      const done = await message(m.id);
      assert.equal(done.status, 'delivered');
      const h = await history(m.id);
      const at = Object.fromEntries(h);
      assert.equal(at.sent - start, 2 * HOUR, 'sent exactly at scheduledFor');
      assert.equal(at.delivered - at.sent, 100, "delivered exactly the sandbox's receipt delay after");
      assert.ok(Date.now() - real < 5_000, `hours of virtual time took ${Date.now() - real} ms`);
    });

    test('validity expires while the message is retried, at the attempt past its end', async () => {
      const start = clock.now().getTime();
      // 1002: every attempt fails transiently; retries after 1, 2, 4, 8, ... s. Validity 20 s.
      const m = await send('sms', sms('+31612341002', { validity: 20 }));
      await move({ advanceBy: '1h' });
      const done = await message(m.id);
      assert.equal(done.status, 'sending_failed', JSON.stringify(done));
      assert.equal(done.failure?.code, 12007, JSON.stringify(done.failure));
      // Attempts at 0, 1, 3, 7, 15 s; the next, at 31 s, finds the validity (20 s) over.
      assert.deepEqual((await history(m.id)).at(-1), ['sending_failed', start + 31_000]);
    });

    test('an 8-hour webhook retry schedule runs attempt by attempt at its times, then fails', async () => {
      const sub = await t.request('POST', `/organizations/${t.organizationId}/workspaces/${t.workspaceId}/webhook-subscriptions`, {
        service: 'channels',
        event: 'sms.outbound',
        url: `http://127.0.0.1:${(failing.address() as AddressInfo).port}/hook`,
        eventFilters: [{ key: 'messageStatus', value: 'accepted' }],
      });
      assert.equal(sub.status, 201, JSON.stringify(sub.body));
      const start = clock.now().getTime();
      const real = Date.now();
      await send('sms', sms('+31612341006'));
      const moved = await move({ advanceBy: '9h' });
      const rows = (
        await sql<{ status: string; attempts: { at: string; httpStatusCode: number }[] }>`select execution_status as status, attempts from webhook_deliveries where workspace_id = ${t.workspaceId}`.execute(t.aviary.ctx.db)
      ).rows;
      assert.equal(rows.length, 1);
      assert.equal(rows[0].status, 'failed');
      // The schedule: the first attempt at once, then after base * 2^(n-1) capped at an hour, the last at the window's end.
      const expected = [start];
      for (let n = 1; ; n++) {
        const next = Math.min(expected.at(-1)! + retryDelayMs(n, { retryBaseMs: WEBHOOKS.webhookRetryBaseMs, retryMaxDelayMs: WEBHOOKS.webhookRetryMaxDelayMs }), start + WEBHOOKS.webhookRetryWindowMs);
        expected.push(next);
        if (next === start + WEBHOOKS.webhookRetryWindowMs) break;
      }
      assert.deepEqual(rows[0].attempts.map((a) => Date.parse(a.at) - start), expected.map((e) => e - start));
      assert.ok(rows[0].attempts.every((a) => a.httpStatusCode === 500));
      assert.equal(hits.length, expected.length, 'each attempt was a real request');
      assert.ok(moved.stops >= expected.length - 1, `stopped at each retry (${moved.stops})`);
      assert.ok(Date.now() - real < 10_000, `8 hours of retries took ${Date.now() - real} ms`);
    });

    test('the WhatsApp service window closes 24 hours after the contact last wrote', async () => {
      const contact = '+31612345678';
      const inbound = await t.request('POST', `${ws()}/channels/${t.channel('whatsapp')}/sandbox/inbound`, { contact: { identifierValue: contact }, body: { type: 'text', text: { text: 'hello?' } } });
      assert.equal(inbound.status, 201, JSON.stringify(inbound.body));
      const text = { receiver: { contacts: [{ identifierValue: contact }] }, body: { type: 'text', text: { text: 'hi there' } } };
      await move({ advanceBy: '23h' });
      const open = await send('whatsapp', text);
      await move({ advanceBy: '1s' });
      assert.equal((await message(open.id)).status, 'delivered', 'inside the window');
      await move({ advanceBy: '1h' });
      const closed = await send('whatsapp', text);
      await move({ advanceBy: '1s' });
      const late = await message(closed.id);
      assert.equal(late.status, 'sending_failed');
      assert.match(late.reason ?? '', /24 hours/);
    });

    test('an upload policy accepts the file until its hour is over, and refuses it after', async () => {
      const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f1f6a30000000049454e44ae426082', 'hex');
      const presign = async () => {
        const res = await t.request('POST', `${ws()}/channel-media/presigned-upload`, { contentType: 'image/png' });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body as { uploadUrl: string; uploadFormData: Record<string, string> };
      };
      const upload = async (p: { uploadUrl: string; uploadFormData: Record<string, string> }) => {
        const form = new FormData();
        for (const [k, v] of Object.entries(p.uploadFormData)) form.append(k, v);
        form.append('file', new Blob([new Uint8Array(PNG)], { type: 'image/png' }), 'dot.png');
        const res = await fetch(p.uploadUrl, { method: 'POST', body: form });
        return { status: res.status, body: await res.text() };
      };
      const early = await presign();
      const late = await presign();
      await move({ advanceBy: '59m' });
      assert.equal((await upload(early)).status, 204, 'within the hour');
      await move({ advanceBy: '61s' });
      const refused = await upload(late);
      assert.equal(refused.status, 403, refused.body);
      assert.match(refused.body, /expired at/);
    });

    test('a snapshot keeps the clock: restoring it brings the time back', async () => {
      const at = clock.now().toISOString();
      const save = await t.request('POST', '/sandbox/snapshots', { name: `clock-${kind}` });
      assert.equal(save.status, 201, JSON.stringify(save.body));
      assert.equal(save.body.clockAt, at);
      await move({ advanceBy: '3 days' });
      assert.equal((await t.request('POST', `/sandbox/snapshots/clock-${kind}/restore`)).status, 200);
      assert.equal((await t.request('GET', '/sandbox/clock')).body.now, at);
      await t.request('DELETE', `/sandbox/snapshots/clock-${kind}`);
    });
  });
}

describe('real clock', () => {
  let t: TestAviary;
  before(async () => {
    t = await startTestAviary('pglite');
  });
  after(() => t.close());

  test('GET says real time; moving it is a 409 that says how to get a virtual one', async () => {
    const res = await t.request('GET', '/sandbox/clock');
    assert.equal(res.body.mode, 'real');
    assert.ok(Math.abs(Date.parse(res.body.now) - Date.now()) < 5_000);
    const move = await t.request('POST', '/sandbox/clock', { advanceBy: '1h' });
    assert.equal(move.status, 409);
    assert.match(move.body.message, /--clock virtual/);
  });
});
