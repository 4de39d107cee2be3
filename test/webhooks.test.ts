import assert from 'node:assert/strict';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { sql } from 'kysely';
import { matchSubscriptions } from '../src/webhooks/emit.ts';
import { birdSignature } from '../src/webhooks/sign.ts';
import { pruneDeliveries } from '../src/webhooks/deliveries.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';
import { watchUpdates } from './support/row-updates.ts';

// Webhooks end to end: Bird's subscriptions API on both path forms, every event kind delivered to a
// real HTTP receiver on loopback that checks each signature with its own implementation of Bird's
// algorithm (below, written from the spec, not from src/webhooks/sign.ts), retries, ordering, logs,
// filters and precedence.

// ------------------------------------------------------------------------------ independent verifier

/** Bird: base64(HMAC-SHA256(key, timestamp + "\n" + url + "\n" + sha256(body) as raw bytes)). */
function birdExpected(key: string, timestamp: string, url: string, rawBody: Buffer): string {
  const bodyDigest = createHash('sha256').update(rawBody).digest();
  const data = Buffer.concat([Buffer.from(timestamp, 'utf8'), Buffer.from('\n'), Buffer.from(url, 'utf8'), Buffer.from('\n'), bodyDigest]);
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(data).digest('base64');
}

function verifyBird(key: string, url: string, r: Received): boolean {
  const got = Buffer.from(String(r.headers['messagebird-signature'] ?? ''), 'base64');
  const want = Buffer.from(birdExpected(key, String(r.headers['messagebird-request-timestamp']), url, r.raw), 'base64');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Standard Webhooks: "v1," + base64(HMAC-SHA256(secret, id + "." + timestamp + "." + body)). */
function verifyStandard(secret: string, r: Received): boolean {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
  const id = String(r.headers['webhook-id']);
  const ts = String(r.headers['webhook-timestamp']);
  const want = createHmac('sha256', key).update(Buffer.concat([Buffer.from(`${id}.${ts}.`), r.raw])).digest('base64');
  return String(r.headers['webhook-signature'] ?? '')
    .split(' ')
    .some((s) => s === `v1,${want}`);
}

// ----------------------------------------------------------------------------------------- receiver

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  body: { service: string; event: string; payload: Record<string, any> };
  at: number;
}

type Answer = { status: number; body?: string; headers?: Record<string, string>; delayMs?: number };

class Receiver {
  readonly got: Received[] = [];
  /** Decides each answer (default 200 "ok"). */
  answer: (r: Received, n: number) => Answer = () => ({ status: 200, body: 'ok' });
  private server: http.Server;
  port = 0;

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const r: Received = { path: req.url ?? '', headers: req.headers, raw, body: JSON.parse(raw.toString('utf8')), at: Date.now() };
        this.got.push(r);
        const a = this.answer(r, this.got.length);
        const send = () => {
          res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers });
          res.end(a.body ?? '');
        };
        if (a.delayMs) setTimeout(send, a.delayMs);
        else send();
      });
    });
    this.server.keepAliveTimeout = 30_000;
  }

  async start(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  reset(): void {
    this.got.length = 0;
    this.answer = () => ({ status: 200, body: 'ok' });
  }

  async waitFor(predicate: (got: Received[]) => boolean, timeoutMs = 10_000, what = 'webhooks'): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.got)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.got.map((g) => [g.body.event, g.body.payload.status ?? g.body.payload.type ?? g.body.payload.name]))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.got;
  }
}

const sms = (to = '+31612345678', extra: Record<string, unknown> = {}) => ({
  receiver: { contacts: [{ identifierValue: to }] },
  body: { type: 'text', text: { text: 'hello' } },
  ...extra,
});

const FAST = { webhookRetryBaseMs: 30, webhookRetryMaxDelayMs: 300, webhookTimeoutMs: 3000 };

for (const kind of storeKinds()) {
  describe(`webhooks (${kind})`, () => {
    let t: TestAviary;
    const receiver = new Receiver();
    const ws = () => `/workspaces/${t.workspaceId}`;
    const org = () => `/organizations/${t.organizationId}/workspaces/${t.workspaceId}`;
    const subscribe = async (body: Record<string, unknown>, base = org()) => {
      const res = await t.request('POST', `${base}/webhook-subscriptions`, { service: 'channels', url: receiver.url(), ...body });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    };
    const send = async (platform: string, body: unknown) => {
      const res = await t.request('POST', `${ws()}/channels/${t.channel(platform)}/messages`, body);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body;
    };
    const statusesOf = (got: Received[], messageId: string) => got.filter((g) => g.body.payload.id === messageId).map((g) => g.body.payload.status);

    before(async () => {
      await receiver.start();
      t = await startTestAviary(kind, FAST);
    });
    after(async () => {
      await t.close();
      await receiver.stop();
    });
    const idle = async () => {
      for (let i = 0; i < 500 && t.aviary.webhooks?.busy; i++) await new Promise((r) => setTimeout(r, 10));
    };
    beforeEach(async () => {
      // Attempts in flight from the previous test land before this one starts.
      receiver.answer = () => ({ status: 200 });
      await idle();
      await t.reset();
      await idle();
      receiver.reset();
    });

    // ------------------------------------------------------------------------------ subscriptions API

    test('create, get, list, update and delete, on both path forms', async () => {
      const created = await subscribe({ event: 'sms.outbound', eventFilters: [{ key: 'messageStatus', value: 'delivered' }], template: 'twilio' });
      assert.match(created.id, /^[0-9a-f-]{36}$/);
      assert.equal(created.organizationId, t.organizationId);
      assert.equal(created.workspaceId, t.workspaceId);
      assert.equal(created.service, 'channels');
      assert.equal(created.event, 'sms.outbound');
      assert.deepEqual(created.eventFilters, [{ key: 'messageStatus', value: 'delivered' }]);
      assert.equal(created.template, 'twilio');
      assert.equal(created.status, 'active');
      assert.ok(Buffer.from(created.signingKey, 'base64').length >= 32, 'a signing key is generated when none is given');
      assert.equal(created.standardWebhooks, false);
      assert.equal(created.failingSince, null);

      // The older path form sees the same subscription.
      const got = await t.request('GET', `${ws()}/webhook-subscriptions/${created.id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, created);

      const second = await subscribe({ event: 'whatsapp.inbound', signingKey: 'mine' }, ws());
      assert.equal(second.signingKey, 'mine');
      const page1 = await t.request('GET', `${org()}/webhook-subscriptions?limit=1`);
      assert.deepEqual(page1.body.results.map((s: any) => s.id), [created.id]);
      assert.ok(page1.body.nextPageToken);
      const page2 = await t.request('GET', `${org()}/webhook-subscriptions?limit=1&pageToken=${encodeURIComponent(page1.body.nextPageToken)}`);
      assert.deepEqual(page2.body.results.map((s: any) => s.id), [second.id]);
      assert.equal(page2.body.nextPageToken, null);
      assert.equal((await t.request('GET', `${ws()}/webhook-subscriptions?limit=0`)).status, 400);
      assert.equal((await t.request('GET', `${ws()}/webhook-subscriptions?pageToken=nonsense`)).status, 400);

      const patched = await t.request('PATCH', `${org()}/webhook-subscriptions/${created.id}`, { status: 'inactive', eventFilters: null, url: receiver.url('/other') });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.status, 'inactive');
      assert.deepEqual(patched.body.eventFilters, []);
      assert.equal(patched.body.url, receiver.url('/other'));
      assert.ok(patched.body.updatedAt >= created.updatedAt);

      assert.equal((await t.request('DELETE', `${org()}/webhook-subscriptions/${created.id}`)).status, 204);
      assert.equal((await t.request('GET', `${org()}/webhook-subscriptions/${created.id}`)).status, 404);
      assert.equal((await t.request('DELETE', `${ws()}/webhook-subscriptions/${created.id}`)).status, 404);
      assert.equal((await t.request('GET', `${ws()}/webhook-subscriptions/not-a-uuid`)).status, 404);
    });

    test('the organization in the path must be the key\'s', async () => {
      const other = '0190a000-0000-7000-8000-000000000000';
      const res = await t.request('GET', `/organizations/${other}/workspaces/${t.workspaceId}/webhook-subscriptions`);
      assert.equal(res.status, 403);
      assert.equal(res.body.code, 'Forbidden');
      assert.equal((await t.request('GET', `${org()}/webhook-subscriptions`, undefined, { authorization: '' })).status, 401);
      assert.equal((await t.request('GET', `/organizations/${t.organizationId}/workspaces/${other}/webhook-subscriptions`)).status, 404);
    });

    test('validation: service, event, filters, status, unknown fields, at least one field to update', async () => {
      const bad = async (body: Record<string, unknown>, path: string) => {
        const res = await t.request('POST', `${org()}/webhook-subscriptions`, { service: 'channels', event: 'sms.outbound', url: receiver.url(), ...body });
        assert.equal(res.status, 422, `${JSON.stringify(body)} -> ${res.status} ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'InvalidPayload');
        assert.ok(Object.keys(res.body.details).some((k) => k.startsWith(path)), `${JSON.stringify(body)}: ${JSON.stringify(res.body.details)}`);
      };
      await bad({ service: 'mail' }, '.service');
      await bad({ event: 'sms.sideways' }, '.event');
      await bad({ event: 'carrier-pigeon.inbound' }, '.event');
      await bad({ service: 'numbers' }, '.event');
      await bad({ url: undefined }, '.'); // Bird's wording: '.': property "url" is required
      await bad({ url: 'ftp://example.com/x' }, '.url');
      await bad({ url: 'not a url' }, '.url');
      await bad({ extra: true }, '.');
      await bad({ eventFilters: [{ key: 'interactionType', value: 'read' }] }, '.eventFilters[0].key');
      await bad({ event: 'sms.inbound', eventFilters: [{ key: 'messageStatus', value: 'delivered' }] }, '.eventFilters[0].key');
      await bad({ eventFilters: [{ key: 'messageStatus', value: 'lost' }] }, '.eventFilters[0].value');
      await bad({ eventFilters: [{ key: 'platformId', value: 'whatsapp' }] }, '.eventFilters[0].value');
      await bad({ eventFilters: [{ key: 'channelId', value: 'abc' }] }, '.eventFilters[0].value');
      await bad({ eventFilters: [{ key: 'channelId', value: '0190a000-0000-7000-8000-000000000000' }] }, '.eventFilters[0].value');
      await bad({ eventFilters: [{ key: 'channelId', value: t.channel('sms') }, { key: 'channelId', value: t.channel('whatsapp') }] }, '.eventFilters');
      await bad({ event: 'channel.created', eventFilters: [{ key: 'channelId', value: t.channel('sms') }] }, '.eventFilters[0].key');
      await bad({ eventFilters: [{ key: 'messageStatus' }] }, '.eventFilters[0]');

      const s = await subscribe({ event: 'email.interaction', eventFilters: [{ key: 'interactionType', value: 'opened' }, { key: 'interactionType', value: 'clicked' }] });
      const patch = (body: unknown) => t.request('PATCH', `${org()}/webhook-subscriptions/${s.id}`, body);
      assert.equal((await patch({})).status, 422);
      assert.equal((await patch({ event: 'sms.outbound' })).status, 422);
      assert.equal((await patch({ service: 'numbers' })).status, 422);
      assert.equal((await patch({ status: 'paused' })).status, 422);
      assert.equal((await patch({ eventFilters: [{ key: 'messageStatus', value: 'sent' }] })).status, 422);
      assert.equal((await patch({ signingKey: 'rotated' })).body.signingKey, 'rotated');
      // Duplicated filters mean them once.
      const dup = await subscribe({ event: 'sms.outbound', eventFilters: [{ key: 'messageStatus', value: 'sent' }, { key: 'messageStatus', value: 'sent' }] });
      assert.deepEqual(dup.eventFilters, [{ key: 'messageStatus', value: 'sent' }]);
    });

    test('at most 5 subscriptions per identical filter combination', async () => {
      const filters = [{ key: 'channelId', value: t.channel('sms') }, { key: 'messageStatus', value: 'delivered' }];
      for (let i = 0; i < 5; i++) await subscribe({ event: 'sms.outbound', eventFilters: i % 2 ? [...filters].reverse() : filters });
      const sixth = await t.request('POST', `${org()}/webhook-subscriptions`, { service: 'channels', event: 'sms.outbound', url: receiver.url(), eventFilters: filters });
      assert.equal(sixth.status, 409, JSON.stringify(sixth.body));
      assert.equal(sixth.body.code, 'Conflict');
      // Another combination, or the same filters on another event, is fine.
      await subscribe({ event: 'sms.outbound', eventFilters: [filters[0]] });
      await subscribe({ event: 'whatsapp.outbound', eventFilters: [{ key: 'messageStatus', value: 'delivered' }] });
      // Changing a subscription's filters into a full combination is refused too.
      const other = await subscribe({ event: 'sms.outbound' });
      const res = await t.request('PATCH', `${ws()}/webhook-subscriptions/${other.id}`, { eventFilters: filters });
      assert.equal(res.status, 409);
    });

    // -------------------------------------------------------------------------------------- delivery

    test('outbound: every status of a message, in order, Bird envelope, signed as Bird signs', async () => {
      const s = await subscribe({ event: 'sms.outbound', signingKey: 'secureSigningKey' });
      const m = await send('sms', sms());
      await t.waitForStatus(m.id, 'delivered');
      const got = await receiver.waitFor((g) => g.length >= 4);
      assert.deepEqual(statusesOf(got, m.id), ['accepted', 'processing', 'sent', 'delivered']);
      const ids = new Set<string>();
      for (const r of got) {
        assert.equal(r.path, '/hook');
        assert.deepEqual(Object.keys(r.body), ['service', 'event', 'payload']);
        assert.equal(r.body.service, 'channels');
        assert.equal(r.body.event, 'sms.outbound');
        assert.equal(r.headers['content-type'], 'application/json');
        assert.match(String(r.headers['messagebird-request-timestamp']), /^\d{10}$/);
        assert.ok(Math.abs(Number(r.headers['messagebird-request-timestamp']) - Date.now() / 1000) < 60);
        assert.match(String(r.headers['messagebird-request-id']), /^[0-9a-f-]{36}$/);
        ids.add(String(r.headers['messagebird-request-id']));
        assert.ok(verifyBird(s.signingKey, s.url, r), 'messagebird-signature verifies');
        assert.ok(!verifyBird('another key', s.url, r));
        assert.equal(r.headers['webhook-signature'], undefined, 'no Standard Webhooks headers unless asked');
      }
      assert.equal(ids.size, 4, 'one request id per event');
      const delivered = got[3].body.payload;
      assert.equal(delivered.id, m.id);
      assert.equal(delivered.channelId, t.channel('sms'));
      assert.equal(delivered.direction, 'outgoing');
      assert.deepEqual(delivered.body, { type: 'text', text: { text: 'hello' } }, 'sms.outbound carries the body');
      assert.equal(delivered.chargeableUnits, 1);
      assert.ok(delivered.lastStatusAt && delivered.createdAt && delivered.updatedAt);
    });

    // A receipt applied in the transaction that records its send (the sandbox's with no delay, an
    // SMSC's right behind its submit response) moves the row once (status-writer.ts `next`): history
    // and webhooks still show `sent` and then the receipt's status, each as it was.
    test('a send and its receipt in one transaction: the row updated once, both statuses in history and webhooks', async () => {
      const db = t.aviary.ctx.db;
      const updates = await watchUpdates(db, 'messages', 'id');
      try {
        const res = await t.request('PATCH', `${ws()}/channels/${t.channel('sms')}`, { connector: { config: { receiptDelayMs: 0 } } });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        await subscribe({ event: 'sms.outbound' });
        // …1005: the sandbox reports it expired (delivery_failed with a failure and a reason).
        const m = await send('sms', sms('+31612341005'));
        assert.equal((await t.waitForQuiet(m.id)).status, 'delivery_failed');
        const got = await receiver.waitFor((g) => statusesOf(g, m.id).length >= 4);
        assert.deepEqual(statusesOf(got, m.id), ['accepted', 'processing', 'sent', 'delivery_failed']);
        const [sent, failed] = got.filter((g) => g.body.payload.id === m.id).slice(2).map((g) => g.body.payload);
        assert.equal(sent.failure, undefined, 'the sent event shows no failure yet');
        assert.equal(sent.reason, undefined);
        assert.equal(sent.chargeableUnits, 1, 'what the send recorded');
        assert.equal(failed.reason, 'expired');
        assert.equal(failed.failure.code, 15004);
        assert.ok(sent.lastStatusAt <= failed.lastStatusAt);
        const history = await db.selectFrom('message_status_history').select(['status', 'reason']).where('workspace_id', '=', t.workspaceId).where('message_id', '=', m.id).orderBy('seq').execute();
        assert.deepEqual(history.map((h) => [h.status, h.reason]), [['accepted', null], ['processing', null], ['sent', null], ['delivery_failed', 'expired']]);
        assert.deepEqual((await updates.of(m.id)).filter((st) => st !== 'processing'), ['delivery_failed'], 'sent and delivery_failed in one update');
      } finally {
        await updates.stop();
      }
    });

    // After a channel's first send, the claim itself moves its messages to `processing` (dispatch/claim.ts
    // ClaimStart), with their webhooks in the same transaction, or with none when nothing subscribed wants them.
    const sendSix = async () => {
      const first = await send('sms', sms());
      await t.waitForStatus(first.id, 'delivered');
      const later = [];
      for (let i = 0; i < 5; i++) later.push(await send('sms', sms(`+3161234500${i}`)));
      for (const m of later) await t.waitForStatus(m.id, 'delivered');
      return [first, ...later];
    };

    test('messages started by the claim (a channel already sending): every status once, in order', async () => {
      await subscribe({ event: 'sms.outbound' });
      const messages = await sendSix();
      const got = await receiver.waitFor((g) => g.length >= messages.length * 4);
      await new Promise((r) => setTimeout(r, 200));
      for (const m of messages) {
        assert.deepEqual(statusesOf(got, m.id), ['accepted', 'processing', 'sent', 'delivered']);
        assert.deepEqual(await t.history(m.id), ['accepted', 'processing', 'sent', 'delivered']);
      }
    });

    test('status filters that leave out processing and sent: only the statuses asked for arrive', async () => {
      await subscribe({ event: 'sms.outbound', eventFilters: [{ key: 'messageStatus', value: 'accepted' }, { key: 'messageStatus', value: 'sent' }], url: `${receiver.url()}?a` });
      await subscribe({ event: 'sms.outbound', eventFilters: [{ key: 'messageStatus', value: 'delivered' }], url: `${receiver.url()}?b` });
      const messages = await sendSix();
      const got = await receiver.waitFor((g) => g.length >= messages.length * 3);
      await new Promise((r) => setTimeout(r, 200));
      for (const m of messages) {
        assert.deepEqual(statusesOf(got.filter((g) => g.path.endsWith('?a')), m.id), ['accepted', 'sent']);
        assert.deepEqual(statusesOf(got.filter((g) => g.path.endsWith('?b')), m.id), ['delivered']);
        assert.deepEqual(await t.history(m.id), ['accepted', 'processing', 'sent', 'delivered']);
      }
    });

    test('the spec\'s test vector, by Aviary and by the independent verifier', () => {
      const body = Buffer.from('{"service":"channels","event":"whatsapp.inbound","payload":{"id":"x"}}');
      const expected = 'Gs+0l9ITg3azq5R06abzJHYD5GItMxmcJHmMVyb7J+U=';
      assert.equal(birdSignature('secureSigningKey', '1700000000', 'https://domain.com/webhook/bird', body), expected);
      assert.equal(birdExpected('secureSigningKey', '1700000000', 'https://domain.com/webhook/bird', body), expected);
    });

    test('non-SMS outbound omits the body; inbound, interaction, channel.created and channel.updated', async () => {
      const subs = {
        out: await subscribe({ event: 'whatsapp.outbound', url: receiver.url('/out') }),
        inbound: await subscribe({ event: 'whatsapp.inbound', url: receiver.url('/in') }),
        interaction: await subscribe({ event: 'whatsapp.interaction', url: receiver.url('/interaction') }),
        created: await subscribe({ event: 'channel.created', url: receiver.url('/created') }),
        updated: await subscribe({ event: 'channel.updated', url: receiver.url('/updated') }),
      };
      const inbound = await t.request('POST', `${ws()}/channels/${t.channel('whatsapp')}/sandbox/inbound`, { contact: { identifierValue: '+31612345678' }, body: { type: 'text', text: { text: 'hi' } } });
      assert.equal(inbound.status, 201);
      const m = await send('whatsapp', sms());
      await t.waitForStatus(m.id, 'delivered');
      const read = await t.request('POST', `${ws()}/channels/${t.channel('whatsapp')}/messages/${m.id}/sandbox/interactions`, { type: 'read' });
      assert.equal(read.status, 201, JSON.stringify(read.body));
      const ch = await t.request('POST', `${ws()}/channels`, { name: 'Second SMS', platform: 'sms' });
      assert.equal(ch.status, 201);
      assert.equal((await t.request('PATCH', `${ws()}/channels/${ch.body.id}`, { name: 'Renamed' })).status, 200);

      const got = await receiver.waitFor((g) => g.filter((r) => r.path === '/out').length >= 4 && g.some((r) => r.path === '/updated') && g.some((r) => r.path === '/interaction'));
      const at = (path: string) => got.filter((r) => r.path === path);
      for (const r of got) {
        const s = Object.values(subs).find((x) => x.url === receiver.url(r.path))!;
        assert.ok(verifyBird(s.signingKey, s.url, r), `${r.path} verifies`);
      }
      assert.deepEqual(at('/out').map((r) => r.body.payload.status), ['accepted', 'processing', 'sent', 'delivered']);
      assert.ok(at('/out').every((r) => r.body.payload.body === undefined), 'whatsapp.outbound has no body');
      const [inb] = at('/in');
      assert.equal(inb.body.event, 'whatsapp.inbound');
      assert.equal(inb.body.payload.id, inbound.body.id);
      assert.equal(inb.body.payload.direction, 'incoming');
      assert.equal(inb.body.payload.status, 'delivered');
      assert.deepEqual(inb.body.payload.body, { type: 'text', text: { text: 'hi' } });
      const [interaction] = at('/interaction');
      assert.equal(interaction.body.event, 'whatsapp.interaction');
      assert.deepEqual(interaction.body.payload, read.body);
      assert.equal(interaction.body.payload.messageId, m.id);
      const [created] = at('/created');
      assert.equal(created.body.event, 'channel.created');
      assert.equal(created.body.payload.id, ch.body.id);
      const [updated] = at('/updated');
      assert.equal(updated.body.event, 'channel.updated');
      assert.equal(updated.body.payload.name, 'Renamed');
      assert.equal(at('/updated').length, 1);
    });

    test('Standard Webhooks headers on request', async () => {
      const s = await subscribe({ event: 'sms.outbound', standardWebhooks: true, signingKey: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' });
      const m = await send('sms', sms());
      const [r] = await receiver.waitFor((g) => g.length >= 1);
      assert.equal(r.body.payload.id, m.id);
      assert.equal(r.headers['webhook-id'], r.headers['messagebird-request-id']);
      assert.equal(r.headers['webhook-timestamp'], r.headers['messagebird-request-timestamp']);
      assert.ok(verifyStandard(s.signingKey, r), 'webhook-signature verifies');
      assert.ok(verifyBird(s.signingKey, s.url, r), 'messagebird-signature still verifies');
    });

    test('retries keep the request id and timestamp; the logs show every attempt', async () => {
      const s = await subscribe({ event: 'sms.outbound', eventFilters: [{ key: 'messageStatus', value: 'accepted' }] });
      receiver.answer = (_r, n) => (n <= 2 ? { status: 500, body: `boom ${n}` } : { status: 204 });
      const m = await send('sms', sms());
      const got = await receiver.waitFor((g) => g.length >= 3);
      assert.equal(new Set(got.map((r) => r.headers['messagebird-request-id'])).size, 1);
      assert.equal(new Set(got.map((r) => r.headers['messagebird-request-timestamp'])).size, 1);
      assert.equal(new Set(got.map((r) => r.headers['messagebird-signature'])).size, 1);
      assert.ok(got.every((r) => verifyBird(s.signingKey, s.url, r)));
      assert.ok(got[1].at - got[0].at >= 25 && got[2].at - got[1].at >= 50, 'exponential backoff');

      const requestId = String(got[0].headers['messagebird-request-id']);
      let logs: any;
      for (let i = 0; i < 100; i++) {
        logs = await t.request('GET', `${org()}/webhook-subscriptions/${s.id}/logs`);
        if (logs.body.results[0]?.executionStatus === 'succeeded') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(logs.status, 200);
      assert.deepEqual(logs.body.results.map((x: any) => [x.requestId, x.attemptCount, x.httpStatusCode, x.executionStatus]), [[requestId, 3, 204, 'succeeded']]);
      assert.equal(logs.body.nextPageToken, null);
      const details = await t.request('GET', `${org()}/webhook-subscriptions/${s.id}/logs/details?requestId=${requestId}`);
      assert.equal(details.status, 200);
      assert.equal(details.body.requestId, requestId);
      assert.equal(JSON.parse(details.body.requestBody).payload.id, m.id);
      assert.deepEqual(details.body.results.map((a: any) => [a.attempt, a.httpStatusCode, a.responseBody]), [[1, 500, 'boom 1'], [2, 500, 'boom 2'], [3, 204, '']]);
      for (const a of details.body.results) {
        assert.equal(a.requestHeaders['messagebird-request-id'], requestId);
        assert.equal(a.requestHeaders['messagebird-signature'], got[0].headers['messagebird-signature']);
        assert.equal(a.requestHeaders['content-length'], String(got[0].raw.length));
        assert.equal(a.requestBody, got[0].raw.toString());
        assert.equal(a.url, s.url);
        assert.equal(typeof a.durationMs, 'number');
        assert.equal(a.error, null);
      }
      assert.equal((await t.request('GET', `${org()}/webhook-subscriptions/${s.id}/logs/details`)).status, 400);
      assert.equal((await t.request('GET', `${org()}/webhook-subscriptions/${s.id}/logs/details?requestId=0190a000-0000-7000-8000-000000000000`)).status, 404);
    });

    test('Retry-After on 429 and 503 is honoured', async () => {
      await subscribe({ event: 'sms.outbound', eventFilters: [{ key: 'messageStatus', value: 'accepted' }] });
      receiver.answer = (_r, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : n === 2 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 });
      await send('sms', sms());
      const got = await receiver.waitFor((g) => g.length >= 3, 10_000);
      assert.ok(got[1].at - got[0].at >= 950, `waited ${got[1].at - got[0].at} ms after 429`);
      assert.ok(got[2].at - got[1].at >= 950, `waited ${got[2].at - got[1].at} ms after 503`);
    });

    test('receiver down, then up: every event arrives, once each in order per message', async () => {
      const down = new Receiver();
      await down.start();
      const port = down.port;
      await down.stop(); // nothing listens on the port now
      const s = await subscribe({ event: 'sms.outbound', url: `http://127.0.0.1:${port}/hook` });
      const messages = [];
      for (let i = 0; i < 5; i++) messages.push(await send('sms', sms(`+3161234${5600 + i}`)));
      for (const m of messages) await t.waitForStatus(m.id, 'delivered');
      // Attempts fail (connection refused) and are retried.
      let logs: any;
      for (let i = 0; i < 100; i++) {
        logs = await t.request('GET', `${org()}/webhook-subscriptions/${s.id}/logs?limit=100&executionStatus=pending`);
        if (logs.body.results.some((x: any) => x.attemptCount >= 2)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(logs.body.results.length > 0);
      const tried = logs.body.results.find((x: any) => x.attemptCount >= 2);
      assert.equal(tried.executionStatus, 'pending');
      const details = await t.request('GET', `${org()}/webhook-subscriptions/${s.id}/logs/details?requestId=${tried.requestId}`);
      assert.match(details.body.results[0].error, /ECONNREFUSED/);
      assert.equal(details.body.results[0].httpStatusCode, null);
      assert.ok((await t.request('GET', `${org()}/webhook-subscriptions/${s.id}`)).body.failingSince, 'failingSince is set');

      const up = new Receiver();
      await up.start(port);
      try {
        const got = await up.waitFor((g) => new Set(g.map((r) => r.headers['messagebird-request-id'])).size >= 20, 15_000);
        for (const m of messages) assert.deepEqual(statusesOf(got, m.id), ['accepted', 'processing', 'sent', 'delivered']);
        for (let i = 0; i < 100 && (await t.request('GET', `${org()}/webhook-subscriptions/${s.id}`)).body.failingSince; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal((await t.request('GET', `${org()}/webhook-subscriptions/${s.id}`)).body.failingSince, null, 'healthy again');
      } finally {
        await up.stop();
      }
    });

    test('order per message holds while one event of it is being retried', async () => {
      await subscribe({ event: 'sms.outbound' });
      // The "processing" event of the first message fails twice; its later events must wait for it.
      let failures = 0;
      receiver.answer = (r) =>
        r.body.payload.receiver.contacts[0].identifierValue === '+31612340001' && r.body.payload.status === 'processing' && failures++ < 2 ? { status: 500 } : { status: 200 };
      const m1 = await send('sms', sms('+31612340001'));
      const m2 = await send('sms', sms('+31612340002'));
      await t.waitForStatus(m1.id, 'delivered');
      const got = await receiver.waitFor((g) => statusesOf(g, m1.id).length >= 6 && statusesOf(g, m2.id).length >= 4);
      assert.deepEqual(statusesOf(got, m1.id), ['accepted', 'processing', 'processing', 'processing', 'sent', 'delivered']);
      assert.deepEqual(statusesOf(got, m2.id), ['accepted', 'processing', 'sent', 'delivered']);
    });

    test('retries stop after the retry window: failed; a subscription failing for long becomes inactive', async () => {
      await t.close();
      t = await startTestAviary(kind, { ...FAST, webhookRetryWindowMs: 300, webhookDisableAfterMs: 400 });
      try {
        const s = await subscribe({ event: 'sms.outbound', eventFilters: [{ key: 'messageStatus', value: 'accepted' }] });
        receiver.answer = () => ({ status: 500, body: 'down' });
        await send('sms', sms());
        let logs: any;
        for (let i = 0; i < 200; i++) {
          logs = await t.request('GET', `${org()}/webhook-subscriptions/${s.id}/logs?executionStatus=failed`);
          if (logs.body.results.length) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(logs.body.results.length, 1);
        assert.ok(logs.body.results[0].attemptCount >= 2);
        assert.equal(logs.body.results[0].httpStatusCode, 500);
        assert.equal((await t.request('GET', `${org()}/webhook-subscriptions/${s.id}/logs?executionStatus=succeeded`)).body.results.length, 0);
        assert.equal((await t.request('GET', `${org()}/webhook-subscriptions/${s.id}/logs?executionStatus=bogus`)).status, 400);

        // Still failing 400 ms after the first failure: the next failed attempt deactivates it.
        await new Promise((r) => setTimeout(r, 450));
        await send('sms', sms());
        let sub: any;
        for (let i = 0; i < 200; i++) {
          sub = (await t.request('GET', `${org()}/webhook-subscriptions/${s.id}`)).body;
          if (sub.status === 'inactive') break;
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(sub.status, 'inactive');
        assert.match(sub.statusReason, /deactivated by Aviary/);
        assert.ok(sub.failingSince);
        // Inactive: new events are not sent.
        // Deliveries are written in the transaction of the status change they report: once the message
        // is quiet, any delivery it caused exists, so none existing means none will be sent.
        const before = receiver.got.length;
        const quiet = await send('sms', sms());
        await t.waitForQuiet(quiet.id);
        const made = await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries where order_key = ${quiet.id}`.execute(t.aviary.ctx.db);
        assert.equal(made.rows[0].n, 0, 'no delivery for an inactive subscription');
        assert.equal(receiver.got.length, before);
        // Re-activating by hand clears the failure state.
        const again = await t.request('PATCH', `${org()}/webhook-subscriptions/${s.id}`, { status: 'active' });
        assert.equal(again.body.status, 'active');
        assert.equal(again.body.statusReason, null);
        assert.equal(again.body.failingSince, null);
      } finally {
        await t.close();
        t = await startTestAviary(kind, FAST);
      }
    });

    test('redeliver by hand: a new request with the same body', async () => {
      const s = await subscribe({ event: 'sms.outbound', eventFilters: [{ key: 'messageStatus', value: 'accepted' }] });
      await send('sms', sms());
      const [first] = await receiver.waitFor((g) => g.length >= 1);
      const requestId = String(first.headers['messagebird-request-id']);
      const res = await t.request('POST', `${org()}/webhook-subscriptions/${s.id}/logs/${requestId}/redeliver`);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.redeliveryOf, requestId);
      assert.notEqual(res.body.requestId, requestId);
      const got = await receiver.waitFor((g) => g.length >= 2);
      assert.equal(got[1].headers['messagebird-request-id'], res.body.requestId);
      assert.equal(got[1].raw.toString(), first.raw.toString());
      assert.ok(verifyBird(s.signingKey, s.url, got[1]));
      assert.equal((await t.request('POST', `${org()}/webhook-subscriptions/${s.id}/logs/0190a000-0000-7000-8000-000000000000/redeliver`)).status, 404);
    });

    test('notification.url: must name a subscription; routes that message\'s events to it', async () => {
      const routed = await subscribe({ event: 'sms.outbound', url: receiver.url('/routed') });
      await subscribe({ event: 'sms.outbound', url: receiver.url('/default') });
      await subscribe({ event: 'sms.outbound', url: receiver.url('/filtered'), eventFilters: [{ key: 'channelId', value: t.channel('sms') }] });
      const refused = await t.request('POST', `${ws()}/channels/${t.channel('sms')}/messages`, sms('+31612345678', { notification: { url: receiver.url('/nobody') } }));
      assert.equal(refused.status, 422);
      assert.ok(refused.body.details['.notification.url']);
      const m = await send('sms', sms('+31612345678', { notification: { url: routed.url } }));
      const plain = await send('sms', sms('+31612345679'));
      await t.waitForStatus(m.id, 'delivered');
      await t.waitForStatus(plain.id, 'delivered');
      // Every delivery these messages caused exists once they are quiet; wait until each is finished.
      await t.waitForQuiet(m.id);
      await t.waitForQuiet(plain.id);
      for (let i = 0; ; i++) {
        const open = await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries
          where order_key in (${m.id}, ${plain.id}) and next_attempt_at is not null`.execute(t.aviary.ctx.db);
        if (open.rows[0].n === 0) break;
        assert.ok(i < 500, 'deliveries still pending');
        await new Promise((r) => setTimeout(r, 20));
      }
      const got = receiver.got;
      assert.deepEqual(
        got.filter((r) => r.body.payload.id === m.id).map((r) => r.path),
        ['/routed', '/routed', '/routed', '/routed'],
        'the routed message goes to its notification URL only',
      );
      assert.deepEqual(
        got.filter((r) => r.body.payload.id === plain.id).map((r) => r.path),
        ['/filtered', '/filtered', '/filtered', '/filtered'],
        'precedence: the channel-filtered subscription takes the others\' events',
      );
    });

    test('a subscription\'s deletion takes its pending deliveries and logs with it', async () => {
      const s = await subscribe({ event: 'sms.outbound' });
      receiver.answer = () => ({ status: 500 });
      const m = await send('sms', sms());
      await t.waitForStatus(m.id, 'delivered');
      await receiver.waitFor((g) => g.length >= 1);
      assert.equal((await t.request('DELETE', `${org()}/webhook-subscriptions/${s.id}`)).status, 204);
      const left = await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries`.execute(t.aviary.ctx.db);
      assert.equal(left.rows[0].n, 0);
    });

    test('logs older than the retention are pruned; recent and pending ones stay', async () => {
      const s = await subscribe({ event: 'sms.outbound', eventFilters: [{ key: 'messageStatus', value: 'accepted' }] });
      await send('sms', sms());
      await receiver.waitFor((g) => g.length >= 1);
      const db = t.aviary.ctx.db;
      const old = new Date(Date.now() - 8 * 86_400_000);
      const oldId = `${old.getTime().toString(16).padStart(12, '0').replace(/^(.{8})(.{4})$/, '$1-$2')}-7abc-8000-000000000001`;
      await sql`insert into webhook_deliveries (workspace_id, id, subscription_id, event, body, created_at, execution_status, next_attempt_at, updated_at)
        values (${t.workspaceId}, ${oldId}, ${s.id}, 'sms.outbound', '{}', ${old}, 'succeeded', null, ${old}),
               (${t.workspaceId}, ${oldId.replace(/1$/, '2')}, ${s.id}, 'sms.outbound', '{}', ${old}, 'pending', ${new Date(Date.now() + 3_600_000)}, ${old})`.execute(db);
      assert.equal(await pruneDeliveries(db, new Date(Date.now() - 7 * 86_400_000)), 1);
      const left = await sql<{ id: string }>`select id from webhook_deliveries order by id`.execute(db);
      assert.equal(left.rows.length, 2);
      assert.ok(!left.rows.some((r) => r.id === oldId));
    });

    // --------------------------------------------------------------------------- filters, precedence

    test('filters and precedence: a table of cases', async () => {
      const db = t.aviary.ctx.db;
      const A = t.channel('sms');
      const B = (await t.request('POST', `${ws()}/channels`, { name: 'SMS B', platform: 'sms' })).body.id as string;
      const WA = t.channel('whatsapp');
      type Sub = { name: string; event?: string; filters?: [string, string][]; url?: string; inactive?: boolean };
      type Ev = { event?: string; channel?: string; status?: string; interaction?: string; platformId?: string; notify?: string };
      const outbound = (e: Ev = {}) => ({ event: 'sms.outbound', channel: A, status: 'delivered', platformId: 'sms-messagebird', ...e });
      const cases: { name: string; subs: Sub[]; event: Ev; expect: string[] }[] = [
        { name: 'an unfiltered subscription gets the event', subs: [{ name: 'U' }], event: outbound(), expect: ['U'] },
        { name: 'another event name gets nothing', subs: [{ name: 'U', event: 'sms.inbound' }, { name: 'W', event: 'whatsapp.outbound' }], event: outbound(), expect: [] },
        { name: 'two unfiltered subscriptions both get it', subs: [{ name: 'U1' }, { name: 'U2' }], event: outbound(), expect: ['U1', 'U2'] },
        { name: 'a matching channel filter takes it from the unfiltered one', subs: [{ name: 'U' }, { name: 'F', filters: [['channelId', A]] }], event: outbound(), expect: ['F'] },
        { name: 'a channel filter for another channel leaves it to the unfiltered one', subs: [{ name: 'U' }, { name: 'F', filters: [['channelId', B]] }], event: outbound(), expect: ['U'] },
        { name: 'a status filter that does not match leaves it', subs: [{ name: 'U' }, { name: 'F', filters: [['messageStatus', 'delivered']] }], event: outbound({ status: 'sent' }), expect: ['U'] },
        { name: 'a status filter that matches takes it', subs: [{ name: 'U' }, { name: 'F', filters: [['messageStatus', 'delivered']] }], event: outbound(), expect: ['F'] },
        { name: 'several values of one key: any matches', subs: [{ name: 'F', filters: [['messageStatus', 'sent'], ['messageStatus', 'delivered']] }], event: outbound({ status: 'sent' }), expect: ['F'] },
        { name: 'keys AND together: both must match', subs: [{ name: 'U' }, { name: 'F', filters: [['channelId', A], ['messageStatus', 'delivered']] }], event: outbound({ status: 'sent' }), expect: ['U'] },
        { name: 'keys AND together: both match', subs: [{ name: 'U' }, { name: 'F', filters: [['channelId', A], ['messageStatus', 'delivered']] }], event: outbound(), expect: ['F'] },
        { name: 'every matching filtered subscription gets it', subs: [{ name: 'U' }, { name: 'F1', filters: [['channelId', A]] }, { name: 'F2', filters: [['messageStatus', 'delivered']] }, { name: 'F3', filters: [['messageStatus', 'sent']] }], event: outbound(), expect: ['F1', 'F2'] },
        { name: 'an inactive filtered subscription takes nothing', subs: [{ name: 'U' }, { name: 'F', filters: [['channelId', A]], inactive: true }], event: outbound(), expect: ['U'] },
        { name: 'an inactive unfiltered subscription gets nothing', subs: [{ name: 'U', inactive: true }], event: outbound(), expect: [] },
        { name: 'filters on another event do not take precedence', subs: [{ name: 'U' }, { name: 'W', event: 'whatsapp.outbound', filters: [['channelId', WA]] }], event: outbound(), expect: ['U'] },
        { name: 'platformId filter', subs: [{ name: 'U' }, { name: 'F', filters: [['platformId', 'sms-messagebird']] }], event: outbound(), expect: ['F'] },
        { name: 'inbound: channel filter', subs: [{ name: 'U', event: 'sms.inbound' }, { name: 'F', event: 'sms.inbound', filters: [['channelId', B]] }], event: { event: 'sms.inbound', channel: B, status: 'delivered', platformId: 'sms-messagebird' }, expect: ['F'] },
        { name: 'inbound: other channel', subs: [{ name: 'U', event: 'sms.inbound' }, { name: 'F', event: 'sms.inbound', filters: [['channelId', B]] }], event: { event: 'sms.inbound', channel: A, status: 'delivered', platformId: 'sms-messagebird' }, expect: ['U'] },
        { name: 'interaction: type filter matches', subs: [{ name: 'U', event: 'whatsapp.interaction' }, { name: 'F', event: 'whatsapp.interaction', filters: [['interactionType', 'read'], ['interactionType', 'reaction']] }], event: { event: 'whatsapp.interaction', channel: WA, interaction: 'reaction', platformId: 'whatsapp' }, expect: ['F'] },
        { name: 'interaction: type filter does not match', subs: [{ name: 'U', event: 'whatsapp.interaction' }, { name: 'F', event: 'whatsapp.interaction', filters: [['interactionType', 'read']] }], event: { event: 'whatsapp.interaction', channel: WA, interaction: 'clicked', platformId: 'whatsapp' }, expect: ['U'] },
        { name: 'channel.updated: channel filter', subs: [{ name: 'U', event: 'channel.updated' }, { name: 'F', event: 'channel.updated', filters: [['channelId', B]] }], event: { event: 'channel.updated', channel: B, platformId: 'sms-messagebird' }, expect: ['F'] },
        { name: 'notification.url routes to that subscription only, over filters', subs: [{ name: 'N', url: '/n' }, { name: 'U', url: '/u' }, { name: 'F', url: '/f', filters: [['channelId', A]] }], event: outbound({ notify: '/n' }), expect: ['N'] },
        { name: 'notification.url: the routed subscription\'s filters still apply', subs: [{ name: 'N', url: '/n', filters: [['messageStatus', 'sent']] }, { name: 'U', url: '/u' }], event: outbound({ notify: '/n' }), expect: [] },
        { name: 'notification.url naming no subscription of this event: normal routing', subs: [{ name: 'W', url: '/n', event: 'whatsapp.outbound' }, { name: 'U', url: '/u' }], event: outbound({ notify: '/n' }), expect: ['U'] },
        { name: 'notification.url: precedence among the routed', subs: [{ name: 'N1', url: '/n' }, { name: 'N2', url: '/n', filters: [['messageStatus', 'delivered']] }], event: outbound({ notify: '/n' }), expect: ['N2'] },
      ];
      for (const c of cases) {
        await sql`delete from webhook_subscriptions`.execute(db);
        const names = new Map<string, string>();
        for (const s of c.subs) {
          const created = await subscribe({ event: s.event ?? 'sms.outbound', url: receiver.url(s.url ?? `/${s.name}`), eventFilters: (s.filters ?? []).map(([key, value]) => ({ key, value })) });
          if (s.inactive) await t.request('PATCH', `${ws()}/webhook-subscriptions/${created.id}`, { status: 'inactive' });
          names.set(created.id, s.name);
        }
        const e = c.event;
        const matches = await matchSubscriptions(db, [
          {
            workspaceId: t.workspaceId,
            event: e.event ?? 'sms.outbound',
            channelId: e.channel ?? null,
            platformId: e.platformId ?? null,
            messageStatus: e.status ?? null,
            interactionType: e.interaction ?? null,
            notificationUrl: e.notify ? receiver.url(e.notify) : null,
            orderKey: null,
          },
        ]);
        assert.deepEqual(matches.map((m) => names.get(m.s)).sort(), [...c.expect].sort(), c.name);
      }
    });
  });
}
