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
        name: 'Support mail',
        platform: 'email',
        identifier: 'support@example.com',
        connector: { type: 'smtp', config: { host: 'smtp.example.com', port: 587, tls: 'starttls', from: { address: 'support@example.com' }, auth: { user: 'support', password: 'hunter2' } } },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.platformId, 'email-messagebird');
      assert.equal(created.body.connector.config.host, 'smtp.example.com');
      // Secrets are the fields the connector's schema marks writeOnly, not names that look secret.
      assert.equal(created.body.connector.config.auth.password, '********');
      assert.equal(created.body.connector.config.auth.user, 'support');
      assert.ok(!JSON.stringify(created.body).includes('hunter2'));

      const id = created.body.id;
      const got = await t.request('GET', `${base}/${id}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.name, 'Support mail');
      assert.ok(!JSON.stringify(got.body).includes('hunter2'));

      const patched = await t.request('PATCH', `${base}/${id}`, { status: 'inactive', connector: { config: { host: 'smtp2.example.com' } } });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.status, 'inactive');
      assert.equal(patched.body.connector.config.host, 'smtp2.example.com');
      assert.equal(patched.body.connector.config.auth.password, '********', 'merging config keeps the stored secret');
      const stored = await t.aviary.ctx.db.selectFrom('channels').select('connector_config').where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal((stored.connector_config as any).auth.password, 'hunter2');

      // A merged config is checked as a whole.
      const bad = await t.request('PATCH', `${base}/${id}`, { connector: { config: { port: 0 } } });
      assert.equal(bad.status, 422);
      assert.ok(bad.body.details['.connector.config.port'], JSON.stringify(bad.body));

      assert.equal((await t.request('DELETE', `${base}/${id}`)).status, 204);
      assert.equal((await t.request('GET', `${base}/${id}`)).status, 404);

      // An unknown connector type, or a config its schema refuses, is a 422 at creation, not a failure at dispatch.
      const unknown = await t.request('POST', base, { name: 'x', platform: 'sms', connector: { type: 'nope', config: {} } });
      assert.equal(unknown.status, 422);
      assert.match(unknown.body.details['.connector.type'][0], /unknown connector type "nope"/);
      const refused = await t.request('POST', base, { name: 'x', platform: 'email', connector: { type: 'smtp', config: { host: 'h', port: 25, tls: 'maybe', from: { address: 'a@b.test' } } } });
      assert.equal(refused.status, 422);
      assert.ok(refused.body.details['.connector.config.tls'], JSON.stringify(refused.body));
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
