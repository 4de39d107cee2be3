import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createAccessKey } from '../src/auth/access-keys.ts';
import { SnapshotStore } from '../src/sandbox/snapshots.ts';
import { startEmulator } from '../src/testing.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// Snapshots of the whole state: saved, changed, restored with the same ids; restored while the
// workers run; the errors; and an emulator that starts from a snapshot another one saved.

const dir = mkdtempSync(join(tmpdir(), 'aviary-snapshots-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sms = (to = '+31612345678') => ({ receiver: { contacts: [{ identifierValue: to }] }, body: { type: 'text', text: { text: 'hello' } } });

for (const kind of storeKinds()) {
  describe(`snapshots (${kind})`, () => {
    let t: TestAviary;
    const ws = () => `/workspaces/${t.workspaceId}`;
    const save = async (name: string) => {
      const res = await t.request('POST', '/sandbox/snapshots', { name });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    };
    const restore = async (name: string) => {
      const res = await t.request('POST', `/sandbox/snapshots/${name}/restore`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    };
    const send = async (to?: string) => {
      const res = await t.request('POST', `${ws()}/channels/${t.channel('sms')}/messages`, sms(to));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body;
    };
    before(async () => {
      t = await startTestAviary(kind, { snapshotDir: join(dir, kind) });
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    test('save, change everything, restore: the same rows with the same ids, and nothing since', async () => {
      const contact = await t.request('POST', `${ws()}/contacts`, { displayName: 'Ann', identifiers: [{ key: 'phonenumber', value: '+31612345678' }] });
      assert.equal(contact.status, 201, JSON.stringify(contact.body));
      const m = await send();
      const delivered = await t.waitForQuiet(m.id);
      assert.equal(delivered.status, 'delivered');
      await t.request('PUT', `${ws()}/sandbox/chaos`, { seed: 's', rules: [{ action: 'dropReceipts' }] });
      const savedContact = (await t.request('GET', `${ws()}/contacts/${contact.body.id}`)).body;
      const info = await save('seeded');
      assert.equal(info.name, 'seeded');
      assert.equal(info.rows.messages, 1);
      assert.equal(info.rows.contacts, 1);
      assert.ok(info.sizeBytes > 0);
      assert.equal(statSync(join(dir, kind, 'seeded.snapshot')).mode & 0o077, 0, 'readable by the owner only');

      // Change it all: a new message, the contact gone, the rules cleared.
      const later = await send('+31612349999');
      await t.waitForStatus(later.id, 'sent');
      assert.equal((await t.request('DELETE', `${ws()}/contacts/${contact.body.id}`)).status, 204);
      await t.request('DELETE', `${ws()}/sandbox/chaos`);

      const restored = await restore('seeded');
      assert.deepEqual(restored, info);
      assert.deepEqual((await t.request('GET', `${ws()}/messages/${m.id}`)).body, delivered);
      assert.equal((await t.request('GET', `${ws()}/messages/${later.id}`)).status, 404);
      assert.deepEqual((await t.request('GET', `${ws()}/contacts/${contact.body.id}`)).body, savedContact);
      assert.deepEqual((await t.request('GET', `${ws()}/sandbox/chaos`)).body.rules, [{ action: 'dropReceipts' }], 'the chaos rules come back, and reach the sandbox');
      const after = await send();
      assert.equal((await t.waitForQuiet(after.id)).status, 'sent', 'dropReceipts acts again');
      // Identity counters continue after the restored rows, not from where the changes left them.
      const seq = await sql<{ max: string; next: string }>`
        select (select max(seq) from message_status_history)::text as max,
               (select last_value from pg_sequences where sequencename like 'message_status_history%')::text as next`.execute(t.aviary.ctx.db);
      assert.equal(seq.rows[0].max, seq.rows[0].next);
      const list = await t.request('GET', '/sandbox/snapshots');
      assert.deepEqual(list.body, { results: [info], nextPageToken: null });
      assert.deepEqual((await t.request('GET', '/sandbox/snapshots/seeded')).body, info);
    });

    test('restore while the workers are busy: they keep running, the restored state is exact', async () => {
      await save('empty');
      const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => send(`+316100000${String(i).padStart(2, '0')}`)));
      await restore('empty');
      const n = await t.aviary.ctx.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(n.n), 0);
      assert.equal((await t.request('GET', `${ws()}/messages/${burst[0].id}`)).status, 404);
      // Whatever a worker was doing with the burst is gone; a new message goes all the way.
      const m = await send();
      assert.equal((await t.waitForQuiet(m.id)).status, 'delivered');
    });

    test('errors: unknown 404, bad name 422, a workspace key 403, snapshots off 409', async () => {
      assert.equal((await t.request('POST', '/sandbox/snapshots/nope/restore')).status, 404);
      assert.equal((await t.request('GET', '/sandbox/snapshots/nope')).body.code, 'NotFound');
      assert.equal((await t.request('DELETE', '/sandbox/snapshots/nope')).status, 404);
      assert.equal((await t.request('POST', '/sandbox/snapshots/..%2Fetc/restore')).status, 404);
      const bad = await t.request('POST', '/sandbox/snapshots', { name: '../escape' });
      assert.equal(bad.status, 422);
      assert.ok(bad.body.details['.name']);
      assert.equal((await t.request('POST', '/sandbox/snapshots', { name: 'x', extra: 1 })).status, 422);
      assert.equal((await t.request('POST', '/sandbox/snapshots')).status, 400);
      assert.equal((await t.request('GET', '/sandbox/snapshots', undefined, { authorization: '' })).status, 401);
      const bound = await createAccessKey(t.aviary.ctx.db, { organizationId: t.organizationId, workspaceId: t.workspaceId, name: 'bound' });
      assert.equal((await t.request('GET', '/sandbox/snapshots', undefined, { authorization: `AccessKey ${bound.key}` })).status, 403);
      await save('gone');
      assert.equal((await t.request('DELETE', '/sandbox/snapshots/gone')).status, 204);
      assert.equal((await t.request('POST', '/sandbox/snapshots/gone/restore')).status, 404);
      const off = new SnapshotStore(t.aviary.ctx.db, undefined, { quiesce: async () => {}, now: () => new Date(), restored: () => {} });
      await assert.rejects(off.save('x'), (err: { statusCode?: number; message: string }) => err.statusCode === 409 && /--snapshot-dir/.test(err.message));
    });

    if (kind === 'pglite') {
      test('startEmulator({ snapshot }) starts from a snapshot another Aviary saved; its reset() goes back to it', async () => {
        const m = await send();
        await t.waitForQuiet(m.id);
        await save('for-emulator');
        const bird = await startEmulator({ snapshot: 'for-emulator', config: { snapshotDir: join(dir, kind), logLevel: 'silent', dispatchPollMs: 200 } });
        try {
          assert.equal(bird.workspaceId, t.workspaceId);
          assert.equal(bird.channels.sms, t.channel('sms'));
          const get = (id: string) => fetch(`${bird.baseUrl}/workspaces/${bird.workspaceId}/messages/${id}`, { headers: { authorization: `AccessKey ${bird.accessKey}` } });
          assert.equal((await get(m.id)).status, 200);
          const res = await fetch(`${bird.baseUrl}/workspaces/${bird.workspaceId}/channels/${bird.channels.sms}/messages`, {
            method: 'POST',
            headers: { authorization: `AccessKey ${bird.accessKey}`, 'content-type': 'application/json' },
            body: JSON.stringify(sms()),
          });
          const sent = (await res.json()) as { id: string };
          await bird.waitForStatus(sent.id, 'delivered');
          await bird.reset();
          assert.equal((await get(sent.id)).status, 404, 'reset went back to the snapshot');
          assert.equal((await get(m.id)).status, 200, 'and the emulator key still works');
        } finally {
          await bird.close();
        }
      });
    }
  });
}
