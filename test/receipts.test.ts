import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { ProviderEvent, ReceiptSettlement } from '../src/connectors/connector.ts';
import { insertReports, reportRow } from '../src/connectors/reports.ts';
import { recordParts } from '../src/dispatch/receipts.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// Receipts by the provider's reference of one part (dispatch/receipts.ts), applied in batches: the
// settlement rules, duplicates in one batch, and a receipt that arrives before its part is recorded.
// The message is a real sent SMS (the sandbox's no-receipt receiver); its parts are recorded as a
// by-reference connector's send records them, and the receipts written as a session reports them.

for (const kind of storeKinds()) {
  describe(`receipts by reference (${kind})`, () => {
    let t: TestAviary;
    let n = 0;
    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    const channel = () => ({ workspaceId: t.workspaceId, id: t.channel('sms') });
    const sentMessage = async () => {
      const r = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`, {
        receiver: { contacts: [{ identifierValue: '+31612341006' }] },
        body: { type: 'text', text: { text: 'x' } },
      });
      assert.equal(r.status, 202);
      await t.waitForStatus(r.body.id, 'sent');
      return r.body.id as string;
    };
    const parts = async (messageId: string, count: number) => {
      const refs = Array.from({ length: count }, (_, i) => `ref-${++n}-${i + 1}`);
      await recordParts(t.aviary.ctx.db, [{ workspaceId: t.workspaceId, channelId: t.channel('sms'), messageId, references: refs }]);
      return refs;
    };
    const receipts = async (list: { reference: string; status: 'delivered' | 'delivery_failed' | 'sent'; settles?: ReceiptSettlement }[]) => {
      const rows = list.map((r) => reportRow(channel(), { kind: 'receipt', ...r } as ProviderEvent, new Date()));
      await insertReports(t.aviary.ctx.db, rows);
      t.aviary.ctx.eventsSignal.notify();
    };
    // Receipts by reference name no message until applied, so waitForQuiet cannot see them: wait for
    // the events table to be empty instead, then read the message.
    const status = async (id: string) => {
      for (let i = 0; i < 200; i++) {
        const left = Number((await t.aviary.ctx.db.selectFrom('connector_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
        if (left === 0) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      return (await t.waitForQuiet(id)).status;
    };

    test("'all': the message moves when every part has its receipt, the worst one deciding", async () => {
      const id = await sentMessage();
      const [a, b] = await parts(id, 2);
      await receipts([{ reference: a, status: 'delivered', settles: 'all' }]);
      assert.equal(await status(id), 'sent');
      await receipts([{ reference: b, status: 'delivered', settles: 'all' }]);
      assert.equal(await status(id), 'delivered');

      const id2 = await sentMessage();
      const [c, d] = await parts(id2, 2);
      await receipts([{ reference: c, status: 'delivery_failed', settles: 'all' }, { reference: d, status: 'delivered', settles: 'all' }]);
      assert.equal(await status(id2), 'delivery_failed');
    });

    test("'last': only the last part's receipt settles; 'any': the first", async () => {
      const id = await sentMessage();
      const [a, b] = await parts(id, 2);
      await receipts([{ reference: a, status: 'delivered', settles: 'last' }]);
      assert.equal(await status(id), 'sent');
      await receipts([{ reference: b, status: 'delivered', settles: 'last' }]);
      assert.equal(await status(id), 'delivered');

      const id2 = await sentMessage();
      const [c] = await parts(id2, 3);
      await receipts([{ reference: c, status: 'delivered' }]);
      assert.equal(await status(id2), 'delivered');
    });

    test('duplicates and an intermediate state in one batch: applied once, the final one wins', async () => {
      const id = await sentMessage();
      const [a] = await parts(id, 1);
      await receipts([
        { reference: a, status: 'sent' },
        { reference: a, status: 'delivered' },
        { reference: a, status: 'delivered' },
        { reference: a, status: 'delivery_failed' },
      ]);
      assert.equal(await status(id), 'delivered');
      assert.deepEqual(await t.history(id), ['accepted', 'processing', 'sent', 'delivered']);
      // Again later: a duplicate, dropped.
      await receipts([{ reference: a, status: 'delivery_failed' }]);
      assert.equal(await status(id), 'delivered');
    });

    test('a receipt that arrives before its part is recorded waits for it', async () => {
      const id = await sentMessage();
      const ref = `early-${++n}`;
      await receipts([{ reference: ref, status: 'delivered' }]);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await t.request('GET', `/workspaces/${t.workspaceId}/messages/${id}`)).body.status, 'sent');
      await recordParts(t.aviary.ctx.db, [{ workspaceId: t.workspaceId, channelId: t.channel('sms'), messageId: id, references: [ref] }]);
      await t.waitForStatus(id, 'delivered');
    });
  });
}
