import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { ProviderEvent } from '../src/connectors/connector.ts';
import { insertReports, reportRow } from '../src/connectors/reports.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// The one durable path for what providers report (connector_events), for inbound messages a provider
// split into pieces (a concatenated SMS): the pieces are written exactly as a session's
// ctx.report writes them, one report at a time and in any order, and the contact's message must be
// stored once, joined, with nothing left behind.

for (const kind of storeKinds()) {
  describe(`inbound pieces are joined before they are stored (${kind})`, () => {
    let t: TestAviary;
    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    const report = async (events: ProviderEvent[]) => {
      const channel = { workspaceId: t.workspaceId, id: t.channel('sms') };
      await insertReports(t.aviary.ctx.db, events.map((e) => reportRow(channel, e, new Date())));
      t.aviary.ctx.eventsSignal.notify();
    };
    const piece = (key: string, seq: number, total: number, text: string, from = '+31612345678'): ProviderEvent => ({
      kind: 'inbound',
      contact: { identifierKey: 'phonenumber', identifierValue: from },
      body: { type: 'text', text: { text } },
      platformReference: `smsc-${key}-${seq}`,
      part: { key, total, seq, text },
    });
    const incoming = async () => {
      const list = await t.request('GET', `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages?limit=100`);
      assert.equal(list.status, 200);
      return list.body.results.filter((m: any) => m.direction === 'incoming');
    };
    const leftover = async () =>
      Number((await t.aviary.ctx.db.selectFrom('connector_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const waitFor = async <T,>(f: () => Promise<T | undefined>, what: string): Promise<T> => {
      for (let i = 0; i < 100; i++) {
        const v = await f();
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${what}`);
    };

    test('three pieces, out of order, one of them twice: one message, in order', async () => {
      await report([piece('k1', 3, 3, ' world')]);
      await report([piece('k1', 1, 3, 'hello')]);
      // Nothing is stored while a piece is missing.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(await incoming(), []);
      await report([piece('k1', 1, 3, 'hello')]);
      await report([piece('k1', 2, 3, ',')]);
      const [msg] = await waitFor(async () => ((await incoming()).length ? incoming() : undefined), 'the joined message');
      assert.equal(msg.body.text.text, 'hello, world');
      assert.equal(msg.sender.contact.identifierValue, '+31612345678');
      await waitFor(async () => ((await leftover()) === 0 ? true : undefined), 'no pieces left');
      assert.equal((await incoming()).length, 1);
    });

    test('pieces of two messages reported together are kept apart', async () => {
      await report([piece('a', 2, 2, 'B'), piece('b', 1, 2, 'x'), piece('a', 1, 2, 'A'), piece('b', 2, 2, 'y', '+31612345678')]);
      const msgs = await waitFor(async () => {
        const m = await incoming();
        return m.length === 2 ? m : undefined;
      }, 'two messages');
      assert.deepEqual(msgs.map((m: any) => m.body.text.text).sort(), ['AB', 'xy']);
    });

    test('a batch of whole messages from several contacts, one of them twice: each stored with its sender, one service window per contact', async () => {
      const whole = (n: number, from: string): ProviderEvent => ({
        kind: 'inbound', contact: { identifierKey: 'phonenumber', identifierValue: from },
        body: { type: 'text', text: { text: `msg ${n}` } }, platformReference: `smsc-whole-${n}`,
      });
      // One report, so one events-loop batch stores them together (recordInbounds).
      await report([whole(1, '+31600000001'), whole(2, '+31600000002'), whole(3, '+31600000001'), whole(4, '+31600000003')]);
      const msgs = await waitFor(async () => {
        const m = await incoming();
        return m.length === 4 ? m : undefined;
      }, 'four messages');
      const byText = new Map<string, any>(msgs.map((m: any) => [m.body.text.text, m]));
      assert.equal(byText.get('msg 1').sender.contact.identifierValue, '+31600000001');
      assert.equal(byText.get('msg 3').sender.contact.identifierValue, '+31600000001');
      assert.equal(byText.get('msg 1').sender.contact.id, byText.get('msg 3').sender.contact.id);
      assert.notEqual(byText.get('msg 1').sender.contact.id, byText.get('msg 2').sender.contact.id);
      const windows = await t.aviary.ctx.db.selectFrom('channel_contacts').select(['contact_id', 'last_inbound_at']).where('workspace_id', '=', t.workspaceId).execute();
      assert.equal(windows.length, 3);
      const history = await t.aviary.ctx.db.selectFrom('message_status_history').select((eb) => eb.fn.countAll().as('n')).where('status', '=', 'delivered').executeTakeFirstOrThrow();
      assert.equal(Number(history.n), 4);
    });
  });
}
