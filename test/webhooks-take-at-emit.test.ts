import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { sql } from 'kysely';
import { transaction } from '../src/db/after-commit.ts';
import type { WebhookEvent } from '../src/webhooks/emit.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// Deliveries taken at emit (webhooks/emit.ts DeliveryTaker): a delivery this process's worker has
// room for is written leased to it and sent once its transaction commits, with no claim and no
// wake-up. What must hold: nothing goes out for a transaction that rolled back, one message's events
// still reach a subscriber one at a time and in order, and whatever is not taken (no room, a busy
// chain, a transaction nobody reports the commit of) is left for the claims as before.

interface Got {
  n: number;
  at: number;
  answeredAt?: number;
}

class Receiver {
  readonly got: Got[] = [];
  delayMs = 0;
  private server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const g: Got = { n: JSON.parse(raw).payload.n, at: Date.now() };
      this.got.push(g);
      setTimeout(() => {
        g.answeredAt = Date.now();
        res.end('ok');
      }, this.delayMs);
    });
  });
  url = '';
  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
  async waitFor(count: number, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (this.got.length < count || this.got.some((g) => g.answeredAt === undefined)) {
      if (Date.now() > deadline) throw new Error(`got ${this.got.length} of ${count} webhooks`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

for (const kind of storeKinds()) {
  describe(`webhook deliveries taken at emit (${kind})`, () => {
    let t: TestAviary;
    const receiver = new Receiver();
    let wakes = 0;

    const event = (n: number, orderKey: string | null): WebhookEvent => ({
      workspaceId: t.workspaceId,
      event: 'sms.outbound',
      channelId: t.channel('sms'),
      platformId: 'sms',
      messageStatus: 'sent',
      orderKey,
      payload: () => ({ n }),
    });
    const emit = (events: WebhookEvent[]) => transaction(t.aviary.ctx.db, (trx) => t.aviary.ctx.outbox.emit(trx, events));
    const rows = async () =>
      (
        await sql<{ lease_owner: string | null; execution_status: string; attempt_count: number }>`
          select lease_owner, execution_status, attempt_count from webhook_deliveries where workspace_id = ${t.workspaceId} order by seq`.execute(t.aviary.ctx.db)
      ).rows;
    const caughtUp = async () => {
      for (let i = 0; i < 500; i++) {
        if (await t.aviary.webhooks!.caughtUp(t.aviary.ctx.clock.now())) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('the webhook worker never caught up');
    };
    const key = () => crypto.randomUUID();

    before(async () => {
      await receiver.start();
      t = await startTestAviary(kind, { webhookConcurrency: 8, webhookTimeoutMs: 5000, webhookRetryBaseMs: 30 });
      t.aviary.ctx.outbox.onWork(() => wakes++);
    });
    after(async () => {
      await t.close();
      await receiver.stop();
    });
    beforeEach(async () => {
      await caughtUp();
      await t.reset();
      receiver.got.length = 0;
      receiver.delayMs = 0;
      const res = await t.request('POST', `/workspaces/${t.workspaceId}/webhook-subscriptions`, { service: 'channels', event: 'sms.outbound', url: receiver.url });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      wakes = 0;
    });

    test('a delivery the worker has room for is sent on commit, with no wake-up for a claim', async () => {
      receiver.delayMs = 200;
      await emit([event(1, key())]);
      assert.equal(wakes, 0, 'nothing was left for a claim');
      const [row] = await rows();
      assert.equal(row.lease_owner, t.aviary.webhooks!.id, 'written leased to this worker');
      await receiver.waitFor(1);
      await caughtUp();
      assert.deepEqual((await rows()).map((r) => [r.execution_status, r.attempt_count, r.lease_owner]), [['succeeded', 1, null]]);
    });

    test('a transaction that rolls back sends nothing and gives the slot back', async () => {
      await assert.rejects(
        transaction(t.aviary.ctx.db, async (trx) => {
          await t.aviary.ctx.outbox.emit(trx, [event(1, key())]);
          throw new Error('the change fails after its events were written');
        }),
        /the change fails/,
      );
      // caughtUp counts booked slots: it is true only once the rollback gave this one back.
      await caughtUp();
      assert.deepEqual(await rows(), []);
      assert.equal(receiver.got.length, 0);
    });

    test("a message's next event waits for the one in flight: not taken, sent after it, in order", async () => {
      const k = key();
      receiver.delayMs = 300;
      await emit([event(1, k)]);
      await emit([event(2, k)]);
      assert.equal(wakes, 1, 'the second was left for a claim');
      assert.deepEqual((await rows()).map((r) => r.lease_owner), [t.aviary.webhooks!.id, null]);
      await receiver.waitFor(2);
      assert.deepEqual(receiver.got.map((g) => g.n), [1, 2]);
      assert.ok(receiver.got[1].at >= receiver.got[0].answeredAt!, 'one at a time');
    });

    test('two events of one message in one transaction: the first is taken, the second follows it', async () => {
      const k = key();
      receiver.delayMs = 100;
      await emit([event(1, k), event(2, k), event(3, key())]);
      assert.deepEqual((await rows()).map((r) => r.lease_owner !== null), [true, false, true]);
      await receiver.waitFor(3);
      const order = receiver.got.map((g) => g.n);
      assert.ok(order.indexOf(1) < order.indexOf(2), `in order: ${order}`);
      assert.ok(receiver.got.find((g) => g.n === 2)!.at >= receiver.got.find((g) => g.n === 1)!.answeredAt!);
    });

    test('beyond the room of the worker (half its slots per subscription), the rest is left for claims', async () => {
      receiver.delayMs = 100;
      await emit(Array.from({ length: 10 }, (_, i) => event(i, key())));
      assert.equal((await rows()).filter((r) => r.lease_owner !== null).length, 4, 'webhookConcurrency 8: 4 per subscription');
      assert.equal(wakes, 1);
      await receiver.waitFor(10);
      await caughtUp();
      assert.ok((await rows()).every((r) => r.execution_status === 'succeeded' && r.attempt_count === 1));
    });

    test('a transaction not opened through db/after-commit.ts leaves its deliveries to a claim', async () => {
      await t.aviary.ctx.db.transaction().execute((trx) => t.aviary.ctx.outbox.emit(trx, [event(1, key())]));
      // (Its row is not asserted unleased: the claim this wakes may already have taken it.)
      assert.equal(wakes, 1, 'left for a claim');
      await receiver.waitFor(1);
      await caughtUp();
      assert.deepEqual((await rows()).map((r) => r.execution_status), ['succeeded']);
    });
  });
}
