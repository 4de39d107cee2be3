import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

for (const kind of storeKinds()) {
  describe(`channels API (${kind})`, () => {
    let t: TestAviary;
    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    test('bootstrap made one active sandbox channel per platform', async () => {
      const res = await t.request('GET', `/workspaces/${t.workspaceId}/channels`);
      assert.equal(res.status, 200);
      const platforms = res.body.results.map((c: any) => c.platform).sort();
      assert.deepEqual(platforms, ['apple-business-chat', 'email', 'facebook', 'instagram', 'line', 'rcs', 'sms', 'telegram', 'viber', 'whatsapp']);
      for (const c of res.body.results) {
        assert.equal(c.status, 'active');
        assert.equal(c.connector.type, 'sandbox');
      }
    });

    test('create, get, update, delete; connector secrets are never echoed', async () => {
      const base = `/workspaces/${t.workspaceId}/channels`;
      const created = await t.request('POST', base, {
        name: 'Support SMS',
        platform: 'sms',
        identifier: '+15550001111',
        connector: { type: 'smpp', config: { host: 'smsc.example.com', password: 'hunter2', nested: { apiKey: 'abc' } } },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.platformId, 'sms-messagebird');
      assert.equal(created.body.connector.config.host, 'smsc.example.com');
      assert.equal(created.body.connector.config.password, '********');
      assert.equal(created.body.connector.config.nested.apiKey, '********');
      assert.ok(!JSON.stringify(created.body).includes('hunter2'));

      const id = created.body.id;
      const got = await t.request('GET', `${base}/${id}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.name, 'Support SMS');
      assert.ok(!JSON.stringify(got.body).includes('hunter2'));

      const patched = await t.request('PATCH', `${base}/${id}`, { status: 'inactive', connector: { config: { host: 'smsc2.example.com' } } });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.status, 'inactive');
      assert.equal(patched.body.connector.config.host, 'smsc2.example.com');
      assert.equal(patched.body.connector.config.password, '********', 'merging config keeps the stored secret');
      const stored = await t.aviary.ctx.db.selectFrom('channels').select('connector_config').where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal((stored.connector_config as any).password, 'hunter2');

      assert.equal((await t.request('DELETE', `${base}/${id}`)).status, 204);
      assert.equal((await t.request('GET', `${base}/${id}`)).status, 404);
      assert.equal((await t.request('DELETE', `${base}/${id}`)).status, 404);
    });

    test('invalid channel bodies get 422 with paths', async () => {
      const base = `/workspaces/${t.workspaceId}/channels`;
      const res = await t.request('POST', base, { name: '', platform: 'pigeon', color: 'red' });
      assert.equal(res.status, 422);
      assert.equal(res.body.code, 'InvalidPayload');
      assert.ok(res.body.details['.name']);
      assert.ok(res.body.details['.platform']);
      assert.deepEqual(res.body.details['.'], ['property "color" is unsupported']);
      const empty = await t.request('PATCH', `${base}/${t.channel('sms')}`, {});
      assert.equal(empty.status, 422);
    });

    test('unknown channel is 404 in Bird words', async () => {
      const res = await t.request('GET', `/workspaces/${t.workspaceId}/channels/00000000-0000-4000-8000-000000000000`);
      assert.equal(res.status, 404);
      assert.deepEqual(res.body, { code: 'NotFound', message: 'The requested resource does not exist: channel not found' });
    });
  });
}
