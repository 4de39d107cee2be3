import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createAccessKey } from '../src/auth/access-keys.ts';
import { createStarterWorkspace } from '../src/bootstrap.ts';
import { PLATFORM_NAMES } from '../src/channels/platforms.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// GET/POST /organizations/{org}/workspaces and GET/PATCH .../workspaces/{ws}: Bird's Workspace shape
// (checked member by member against the spec's additionalProperties:false list), keyset pages, and
// who may do what: keys of another organization (403), keys limited to one workspace (only their own).

const WORKSPACE_KEYS = ['id', 'organizationId', 'status', 'statusTransitions', 'name', 'description', 'dataPolicy', 'configuration', 'createdAt', 'updatedAt'];

function assertBirdWorkspace(w: Record<string, unknown>): void {
  for (const k of Object.keys(w)) assert.ok(WORKSPACE_KEYS.includes(k), `unexpected member ${k}`);
  assert.match(String(w.id), /^[0-9a-f-]{36}$/);
  assert.equal(w.status, 'active');
  assert.deepEqual(w.statusTransitions, []);
  assert.ok(!Number.isNaN(Date.parse(String(w.createdAt))) && !Number.isNaN(Date.parse(String(w.updatedAt))));
}

for (const kind of storeKinds()) {
  describe(`organization workspaces API (${kind})`, () => {
    let t: TestAviary;
    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(() => t.reset());
    const org = () => `/organizations/${t.organizationId}/workspaces`;

    test('list: the starter workspace first, Bird shape, with its organization id', async () => {
      const r = await t.request('GET', org());
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.body).sort(), ['nextPageToken', 'results']);
      assert.equal(r.body.nextPageToken, null);
      assert.equal(r.body.results.length, 1);
      const [w] = r.body.results;
      assertBirdWorkspace(w);
      assert.equal(w.id, t.workspaceId);
      assert.equal(w.organizationId, t.organizationId);
      assert.equal(w.name, 'Default');
      assert.ok(!('description' in w), 'unset optional members are left out, not null');
    });

    test('create: 201 with every field echoed, usable at once with the org key, with sandbox channels', async () => {
      const body = {
        name: 'Marketing',
        description: 'Campaigns',
        dataPolicy: { group: 'eu-west-1', regions: [{ region: 'eu-west-1', priority: 1 }], piiStrategy: 'default' },
        configuration: { domain: 'example.com' },
        userUsername: 'ann.smith',
        flavors: ['crm'],
      };
      const r = await t.request('POST', org(), body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assertBirdWorkspace(r.body);
      assert.equal(r.body.organizationId, t.organizationId);
      assert.equal(r.body.name, 'Marketing');
      assert.equal(r.body.description, 'Campaigns');
      assert.deepEqual(r.body.dataPolicy, body.dataPolicy);
      assert.deepEqual(r.body.configuration, body.configuration);
      assert.deepEqual(await t.request('GET', `${org()}/${r.body.id}`).then((x) => x.body), r.body);

      const channels = await t.request('GET', `/workspaces/${r.body.id}/channels`);
      assert.equal(channels.status, 200);
      assert.deepEqual(channels.body.results.map((c: { platform: string }) => c.platform).sort(), [...PLATFORM_NAMES].sort());
      const sms = channels.body.results.find((c: { platform: string }) => c.platform === 'sms');
      const sent = await t.request('POST', `/workspaces/${r.body.id}/channels/${sms.id}/messages`, {
        receiver: { contacts: [{ identifierValue: '+31612345678' }] },
        body: { type: 'text', text: { text: 'hi' } },
      });
      assert.equal(sent.status, 202);
      // The emulator's waitForStatus looks in the starter workspace: poll the new one's message here.
      let status = '';
      for (let i = 0; i < 200 && status !== 'delivered'; i++) {
        status = (await t.request('GET', `/workspaces/${r.body.id}/messages/${sent.body.id}`)).body.status;
        if (status !== 'delivered') await new Promise((res) => setTimeout(res, 50));
      }
      assert.equal(status, 'delivered', 'the sandbox channel of the new workspace delivers');
      // The starter workspace's channels are untouched, and the new one's are its own.
      assert.equal((await t.request('GET', `/workspaces/${t.workspaceId}/channels`)).body.results.length, PLATFORM_NAMES.length);
      assert.equal((await t.request('GET', `/workspaces/${t.workspaceId}/channels/${sms.id}`)).status, 404);
    });

    test('pages: limit, pageToken and reverse walk every workspace once, in order', async () => {
      const names: string[] = ['Default'];
      for (let i = 0; i < 5; i++) {
        const r = await t.request('POST', org(), { name: `ws-${i}` });
        assert.equal(r.status, 201);
        names.push(`ws-${i}`);
      }
      const walk = async (query: string) => {
        const seen: string[] = [];
        let token: string | null = null;
        do {
          const r: { status: number; body: any } = await t.request('GET', `${org()}?limit=2${query}${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
          assert.equal(r.status, 200);
          assert.ok(r.body.results.length <= 2);
          seen.push(...r.body.results.map((w: { name: string }) => w.name));
          token = r.body.nextPageToken;
        } while (token);
        return seen;
      };
      assert.deepEqual(await walk(''), names);
      assert.deepEqual(await walk('&reverse=true'), [...names].reverse());
      assert.deepEqual(await walk('&reverse'), [...names].reverse());
      assert.equal((await t.request('GET', org())).body.results.length, 6);
    });

    test('patch: changes the given fields, null clears, updatedAt moves; 404, 422 with JSON paths', async () => {
      const created = (await t.request('POST', org(), { name: 'A', description: 'first', configuration: { domain: 'a.example' } })).body;
      const p = await t.request('PATCH', `${org()}/${created.id}`, { name: 'B', description: null });
      assert.equal(p.status, 200);
      assertBirdWorkspace(p.body);
      assert.equal(p.body.name, 'B');
      assert.ok(!('description' in p.body));
      assert.deepEqual(p.body.configuration, { domain: 'a.example' });
      assert.ok(p.body.updatedAt >= created.updatedAt);
      assert.equal(p.body.createdAt, created.createdAt);
      assert.equal((await t.request('GET', `${org()}/${created.id}`)).body.name, 'B');

      const missing = await t.request('PATCH', `${org()}/00000000-0000-4000-8000-000000000000`, { name: 'x' });
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, { code: 'NotFound', message: 'The requested resource does not exist: workspace not found' });
      assert.equal((await t.request('PATCH', `${org()}/not-a-uuid`, { name: 'x' })).status, 404);

      const bad = async (body: unknown, details: Record<string, string[]>) => {
        const r = await t.request('PATCH', `${org()}/${created.id}`, body);
        assert.equal(r.status, 422, JSON.stringify(body));
        assert.equal(r.body.code, 'InvalidPayload');
        assert.deepEqual(r.body.details, details);
      };
      await bad({}, { '.': ['must have at least 1 property'] });
      await bad({ name: '' }, { '.name': ['must not be empty'] });
      await bad({ name: 'x'.repeat(257) }, { '.name': ['must be at most 256 characters long'] });
      await bad({ status: 'inactive' }, { '.': ['property "status" is unsupported'] });
      await bad({ dataPolicy: { regions: [{ priority: 1 }] } }, { '.dataPolicy.regions[0]': ['property "region" is required'] });
      await bad({ configuration: { domain: 5 } }, { '.configuration.domain': ['must be a string'] });
      assert.equal((await t.request('PATCH', `${org()}/${created.id}`)).status, 400);
    });

    test('create: 422 with JSON-path details, 400 without a body', async () => {
      const bad = async (body: unknown, details: Record<string, string[]>) => {
        const r = await t.request('POST', org(), body);
        assert.equal(r.status, 422, JSON.stringify(body));
        assert.deepEqual(r.body, { code: 'InvalidPayload', message: 'One or more fields provided in the request body are malformed', details });
      };
      await bad({}, { '.': ['property "name" is required'] });
      await bad({ name: 7 }, { '.name': ['must be a string'] });
      await bad({ name: 'x', description: '' }, { '.description': ['must not be empty'] });
      await bad({ name: 'x', userUsername: 'Ann Smith' }, { '.userUsername': ['must match the pattern ^[a-z0-9._-]+$'] });
      await bad({ name: 'x', flavors: [1] }, { '.flavors[0]': ['must be a string'] });
      await bad({ name: 'x', owner: 'me' }, { '.': ['property "owner" is unsupported'] });
      await bad([], { '.': ['must be an object'] });
      const none = await t.request('POST', org(), '', { 'content-type': 'application/json' });
      assert.equal(none.status, 400);
      assert.equal((await t.request('GET', org())).body.results.length, 1, 'nothing was created');
    });

    test('get: 404 for an unknown workspace and for one of another organization', async () => {
      assert.equal((await t.request('GET', `${org()}/00000000-0000-4000-8000-000000000000`)).status, 404);
      const foreign = await createStarterWorkspace(t.aviary.ctx.db, undefined, 'elsewhere');
      const r = await t.request('GET', `${org()}/${foreign.workspace.id}`);
      assert.equal(r.status, 404, 'a workspace is looked up inside the organization of the path');
    });

    test('403 for a key of another organization, on every operation; 401 without a key; 400 for bad paging', async () => {
      const foreign = await createStarterWorkspace(t.aviary.ctx.db, undefined, 'elsewhere');
      const theirs = { authorization: `AccessKey ${foreign.accessKey}` };
      const forbidden = { code: 'Forbidden', message: 'User has no access to the requested resource' };
      for (const [method, path, body] of [
        ['GET', org(), undefined],
        ['POST', org(), { name: 'intruder' }],
        ['GET', `${org()}/${t.workspaceId}`, undefined],
        ['PATCH', `${org()}/${t.workspaceId}`, { name: 'taken' }],
      ] as const) {
        const r = await t.request(method, path, body, theirs);
        assert.equal(r.status, 403, `${method} ${path}`);
        assert.deepEqual(r.body, forbidden);
      }
      // Their own organization works with their key, and shows only theirs.
      const own = await t.request('GET', `/organizations/${foreign.organizationId}/workspaces`, undefined, theirs);
      assert.deepEqual(own.body.results.map((w: { id: string }) => w.id), [foreign.workspace.id]);
      // An organization that does not exist is a 403 too: a key cannot probe for organizations.
      assert.equal((await t.request('GET', '/organizations/00000000-0000-4000-8000-000000000000/workspaces')).status, 403);
      assert.equal((await t.request('GET', '/organizations/nope/workspaces')).status, 403);
      assert.equal((await t.request('GET', org(), undefined, { authorization: '' })).status, 401);
      assert.equal((await t.request('GET', `${org()}/${t.workspaceId}`)).body.name, 'Default', 'nothing was changed');

      for (const [query, key] of [['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=1&limit=2', 'limit'], ['reverse=maybe', 'reverse'], ['pageToken=xyz', 'pageToken']]) {
        const r = await t.request('GET', `${org()}?${query}`);
        assert.equal(r.status, 400, query);
        assert.equal(r.body.code, 'InvalidParameters');
        assert.deepEqual(Object.keys(r.body.details), [key], query);
      }
    });

    test('a key limited to one workspace lists and reads only its own, and may not create or change workspaces', async () => {
      const other = (await t.request('POST', org(), { name: 'Other' })).body;
      const { key } = await createAccessKey(t.aviary.ctx.db, { organizationId: t.organizationId, workspaceId: other.id, name: 'bound' });
      const bound = { authorization: `AccessKey ${key}` };
      const list = await t.request('GET', org(), undefined, bound);
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.results.map((w: { id: string }) => w.id), [other.id]);
      assert.equal((await t.request('GET', `${org()}/${other.id}`, undefined, bound)).status, 200);
      assert.equal((await t.request('GET', `${org()}/${t.workspaceId}`, undefined, bound)).status, 403);
      assert.equal((await t.request('POST', org(), { name: 'more' }, bound)).status, 403);
      assert.equal((await t.request('PATCH', `${org()}/${other.id}`, { name: 'renamed' }, bound)).status, 403);
      assert.equal((await t.request('GET', org())).body.results.length, 2);
    });
  });
}
