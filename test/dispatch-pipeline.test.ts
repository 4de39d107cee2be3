import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { sql } from 'kysely';
import { SMTPServer } from 'smtp-server';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// Pipelined dispatch (dispatch/dispatcher.ts): sends do not hold the claim loop, so a provider that
// takes 5 s per message delays only its own channel, and what a process holds claimed stays within
// its budget however deep the backlog. The slow provider is a real SMTP relay on loopback that
// answers DATA after 5 s.

const SLOW_MS = 5_000;
const MAX_IN_FLIGHT = 40;

async function startSlowRelay(): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
  let accepted = 0;
  const server = new SMTPServer({
    authOptional: true,
    logger: false,
    onData(stream, _session, cb) {
      stream.resume();
      stream.on('end', () => setTimeout(() => { accepted++; cb(); }, SLOW_MS));
    },
  });
  server.on('error', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.server.address() as AddressInfo).port,
    accepted: () => accepted,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

for (const kind of storeKinds()) {
  describe(`pipelined dispatch (${kind})`, () => {
    let t: TestAviary;
    let relay: Awaited<ReturnType<typeof startSlowRelay>>;
    let slowChannel: string;
    before(async () => {
      relay = await startSlowRelay();
      t = await startTestAviary(kind, { dispatchMaxInFlight: MAX_IN_FLIGHT });
    });
    after(async () => {
      await t.close();
      await relay.close();
    });
    beforeEach(async () => {
      await t.reset();
      const ch = await t.request('POST', `/workspaces/${t.workspaceId}/channels`, {
        name: 'Slow mail',
        platform: 'email',
        connector: { type: 'smtp', config: { host: '127.0.0.1', port: relay.port, tls: 'none', poolSize: 2, from: { address: 'news@aviary.test' } } },
      });
      assert.equal(ch.status, 201, JSON.stringify(ch.body));
      slowChannel = ch.body.id;
    });

    const email = (i: number) =>
      t.request('POST', `/workspaces/${t.workspaceId}/channels/${slowChannel}/messages`, {
        receiver: { contacts: [{ identifierValue: `user${i}@example.com` }] },
        body: { type: 'text', text: { text: `hello ${i}`, metadata: { subject: 'Hi' } } },
      });
    const sms = (i: number) =>
      t.request('POST', `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`, {
        receiver: { contacts: [{ identifierValue: `+3161234${String(i).padStart(4, '0')}` }] },
        body: { type: 'text', text: { text: `hi ${i}` } },
      });

    test('a provider taking 5 s per send does not slow another channel', async () => {
      const mails = await Promise.all([0, 1].map(email));
      for (const m of mails) assert.equal(m.status, 202);
      await t.waitForStatus(mails[0].body.id, 'processing');
      const started = Date.now();
      const texts = await Promise.all(Array.from({ length: 20 }, (_, i) => sms(i)));
      for (const m of texts) await t.waitForStatus(m.body.id, ['sent', 'delivered']);
      // Every SMS went out while the relay still held both mails (no timing: the machine may be busy).
      assert.equal(relay.accepted(), 0, `the SMS took ${Date.now() - started} ms, behind the slow relay`);
      for (const m of mails) assert.equal((await t.request('GET', `/workspaces/${t.workspaceId}/messages/${m.body.id}`)).body.status, 'processing');
      for (const m of mails) await t.waitForStatus(m.body.id, 'sent', SLOW_MS * 3);
    });

    test('a deep backlog on a slow channel: the process holds at most its budget, the channel its share', async () => {
      // Accepted in bulk; the slow channel can finish 2 every 5 s, so nearly all stay queued.
      const accepted = await Promise.all(Array.from({ length: 200 }, (_, i) => email(i)));
      for (const m of accepted) assert.equal(m.status, 202);
      const dispatcher = t.aviary.dispatcher!;
      let peak = 0;
      const deadline = Date.now() + 1500;
      while (Date.now() < deadline) {
        peak = Math.max(peak, dispatcher.pending);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(peak > 0, 'the backlog is being worked on');
      // A quarter of the budget is the most one channel may hold.
      assert.ok(peak <= MAX_IN_FLIGHT / 4, `held ${peak} of one channel with a budget of ${MAX_IN_FLIGHT}`);
      // The rest of the budget is free for others: an SMS goes at once.
      const m = await sms(1);
      await t.waitForStatus(m.body.id, ['sent', 'delivered'], 2_000);
    });
  });
}

// A backlog deeper than a channel's share is claimed a share at a time; what claims the rest is the
// wake-up each send recorded gives once the channel has room again (dispatcher.ts `hungry`), never
// the poll. With the poll an hour away, a wake-up lost between two claims leaves the backlog standing.
for (const kind of storeKinds()) {
  describe(`a backlog deeper than the share drains on wake-ups alone (${kind})`, () => {
    let t: TestAviary;
    before(async () => {
      t = await startTestAviary(kind, { dispatchPollMs: 3_600_000 });
    });
    after(() => t.close());

    test('300 messages due at once on one channel (share 32) are all sent, none waiting for the poll', async () => {
      const due = new Date(Date.now() + 3_000).toISOString();
      const ids: string[] = [];
      for (let i = 0; i < 300; i += 50) {
        const batch = await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            t.request('POST', `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`, {
              receiver: { contacts: [{ identifierValue: `+3162${String(i + j).padStart(7, '0')}` }] },
              body: { type: 'text', text: { text: `due ${i + j}` } },
              scheduledFor: due,
            }),
          ),
        );
        for (const r of batch) assert.equal(r.status, 202, JSON.stringify(r.body));
        ids.push(...batch.map((r) => r.body.id as string));
      }
      const sent = async () =>
        Number(
          (
            await sql<{ n: number }>`select count(*)::int as n from messages where workspace_id = ${t.workspaceId} and status in ('sent', 'delivered')`.execute(t.aviary.ctx.db)
          ).rows[0].n,
        );
      const deadline = Date.now() + 30_000;
      while ((await sent()) < ids.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await sent(), ids.length, 'every message sent well before the next poll');
    });
  });
}
