import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startSmsc, type SmscSimulator } from '../src/smsc/simulator.ts';
import { watchUpdates } from './support/row-updates.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// SMS over SMPP through the real server: a channel with connector smpp binds to the simulator, a
// POSTed message goes out as submit_sm, and the simulator's receipt settles it `delivered` by the
// SMSC's message id (message_parts); a failed receipt makes it delivery_failed with Bird's failure.

for (const kind of storeKinds()) {
  describe(`SMS over SMPP through the dispatcher (${kind})`, () => {
    let t: TestAviary;
    let sim: SmscSimulator;
    let channelId: string;
    let n = 0;
    before(async () => {
      // Any system id binds: each test's channel has its own, so a receipt cannot reach the bind of an
      // earlier test's channel (an SMSC hands receipts to any bind of the account), still open until the sweep.
      sim = await startSmsc();
      t = await startTestAviary(kind);
    });
    after(async () => {
      await t.close();
      await sim.close();
    });
    beforeEach(async () => {
      await t.reset();
      sim.resetFaults();
      const ch = await t.request('POST', `/workspaces/${t.workspaceId}/channels`, {
        name: 'SMPP',
        platform: 'sms',
        connector: { type: 'smpp', config: { host: '127.0.0.1', port: sim.port, systemId: `aviary${++n}`, password: 'secret' } },
      });
      assert.equal(ch.status, 201, JSON.stringify(ch.body));
      assert.equal(ch.body.connector.config.password, '********', 'the password is write-only');
      channelId = ch.body.id;
    });
    const post = async (text: string, to = '+31612345678') => {
      const res = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${channelId}/messages`, {
        receiver: { contacts: [{ identifierValue: to }] },
        body: { type: 'text', text: { text } },
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body.id as string;
    };

    test('sent with the SMSC message id per part, then delivered by the receipt', async () => {
      const id = await post('x'.repeat(200));
      const sent = await t.waitForStatus(id, ['sent', 'delivered']);
      const delivered = await t.waitForStatus(id, 'delivered');
      const ours = sim.submits.filter((s) => s.destination === '31612345678');
      assert.equal(ours.length, 2);
      assert.deepEqual(delivered.parts.map((p: any) => p.platformReference).sort(), ours.map((s) => s.messageId).sort());
      assert.equal(sent.id, id);
      assert.deepEqual(await t.history(id), ['accepted', 'processing', 'sent', 'delivered']);
    });

    test('a receipt that comes with its submit response is applied in the transaction that records the send', async () => {
      // The simulator writes the receipt and the submit_sm_resp in one flush (a receipt sent after the
      // response comes a timer later, and may find the send committed): the receipt rides with the
      // send's outcome (session-reports.ts), so `sent` and `delivered` are written by one transaction.
      sim.setFaults({ receipts: { beforeResponse: true } });
      const db = t.aviary.ctx.db;
      const messageUpdates = await watchUpdates(db, 'messages', 'id');
      const partUpdates = await watchUpdates(db, 'message_parts', 'message_id');
      try {
        const ids = await Promise.all(['one', 'two', 'x'.repeat(200)].map((x) => post(x)));
        for (const id of ids) await t.waitForStatus(id, 'delivered');
        const { rows } = await sql<{ message_id: string; status: string; tx: string }>`
          select message_id, status, xmin::text as tx from message_status_history
          where workspace_id = ${t.workspaceId} and message_id = any (${ids}::uuid[]) and status in ('sent', 'delivered')`.execute(db);
        for (const id of ids) {
          const tx = new Set(rows.filter((r) => r.message_id === id).map((r) => r.tx));
          assert.equal(tx.size, 1, `sent and delivered of ${id} in ${[...tx].join(', ')}`);
          assert.deepEqual(await t.history(id), ['accepted', 'processing', 'sent', 'delivered']);
          // One update for both (status-writer.ts `next`), and each part written with its receipt.
          assert.deepEqual((await messageUpdates.of(id)).filter((st) => st !== 'processing'), ['delivered']);
          assert.deepEqual(await partUpdates.of(id), []);
        }
        const parts = await db.selectFrom('message_parts').select(['message_id', 'receipt_status']).where('workspace_id', '=', t.workspaceId).execute();
        assert.deepEqual(parts.filter((p) => p.message_id === ids[2]).map((p) => p.receipt_status), ['delivered', 'delivered']);
        const parked = await db.selectFrom('connector_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
        assert.equal(Number(parked.n), 0);
      } finally {
        await messageUpdates.stop();
        await partUpdates.stop();
      }
    });

    test('an UNDELIV receipt with err 001 makes it delivery_failed, unknown subscriber', async () => {
      sim.setFaults({ receipts: { stat: 'UNDELIV', err: '001' } });
      const id = await post('nobody home', '+31600000001');
      const failed = await t.waitForStatus(id, 'delivery_failed');
      assert.equal(failed.failure.code, 15005, JSON.stringify(failed.failure));
      assert.equal(failed.failure.source.name, 'sms-messagebird');
    });

    test('an MO deliver_sm becomes an sms.inbound message from the contact', async () => {
      // The SMSC keeps an MO until a receiver bind of its system id is there.
      const [d] = await sim.sendMo({ from: '+31698765432', to: '+15550100001', text: 'hello from a phone', systemId: `aviary${n}` });
      assert.deepEqual(d.answers, [0]);
      for (let i = 0; i < 100; i++) {
        const list = await t.request('GET', `/workspaces/${t.workspaceId}/channels/${channelId}/messages`);
        const inbound = list.body.results.find((m: any) => m.direction === 'incoming');
        if (inbound) {
          assert.equal(inbound.sender.contact.identifierValue, '+31698765432');
          assert.equal(inbound.body.text.text, 'hello from a phone');
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail('no inbound message');
    });

    test('a concatenated MO (UDH and SAR) is stored once, joined', async () => {
      const long = 'This reply is longer than one SMS can carry, so the phone splits it into pieces and the SMSC hands each piece over on its own; Aviary stores it once, joined in the order the pieces name, whatever order they came in.';
      for (const concatenation of ['udh8', 'sar'] as const) {
        const ds = await sim.sendMo({ from: '+31698765432', to: '+15550100001', text: `${concatenation}: ${long}`, concatenation, systemId: `aviary${n}` });
        assert.ok(ds.length > 1, 'sent in pieces');
      }
      for (let i = 0; i < 100; i++) {
        const list = await t.request('GET', `/workspaces/${t.workspaceId}/channels/${channelId}/messages`);
        const inbound = list.body.results.filter((m: any) => m.direction === 'incoming');
        if (inbound.length >= 2) {
          assert.deepEqual(inbound.map((m: any) => m.body.text.text).sort(), [`sar: ${long}`, `udh8: ${long}`]);
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail('no joined inbound messages');
    });
  });
}
