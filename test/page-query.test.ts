import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// Every list reads limit, pageToken and reverse through one parser (src/http/page-query.ts), so the
// same bad parameter gets the same 400 with the same details on every list. This walks them all.

for (const kind of storeKinds()) {
  describe(`page parameters are read the same on every list (${kind})`, () => {
    let t: TestAviary;
    const lists: Record<string, { path: string; maxLimit: number }> = {};

    before(async () => {
      t = await startTestAviary(kind);
      const ws = `/workspaces/${t.workspaceId}`;
      const sms = t.channel('sms');
      const sent = await t.request('POST', `${ws}/channels/${sms}/messages`, {
        receiver: { contacts: [{ identifierValue: '+31612345678' }] },
        body: { type: 'text', text: { text: 'hi' } },
      });
      assert.equal(sent.status, 202);
      const project = await t.request('POST', `${ws}/projects`, { name: 'pages', type: 'channelTemplate' });
      assert.equal(project.status, 201);
      const sub = await t.request('POST', `${ws}/webhook-subscriptions`, { service: 'channels', event: 'sms.outbound', url: 'http://127.0.0.1:9/hook' });
      assert.equal(sub.status, 201);
      const contact = await t.request('POST', `${ws}/contacts`, { displayName: 'Ann', identifiers: [{ key: 'emailaddress', value: 'ann@example.com' }] });
      assert.equal(contact.status, 201);
      const list = await t.request('POST', `${ws}/lists`, { name: 'pages' });
      assert.equal(list.status, 201);
      Object.assign(lists, {
        channels: { path: `${ws}/channels`, maxLimit: 1000 },
        'channel messages': { path: `${ws}/channels/${sms}/messages`, maxLimit: 1000 },
        'workspace messages': { path: `${ws}/messages`, maxLimit: 1000 },
        interactions: { path: `${ws}/channels/${sms}/messages/${sent.body.id}/interactions`, maxLimit: 100 },
        contacts: { path: `${ws}/contacts`, maxLimit: 100 },
        suppressions: { path: `${ws}/suppressions`, maxLimit: 100 },
        projects: { path: `${ws}/projects`, maxLimit: 100 },
        versions: { path: `${ws}/projects/${project.body.id}/channel-templates`, maxLimit: 100 },
        'webhook subscriptions': { path: `${ws}/webhook-subscriptions`, maxLimit: 100 },
        'webhook logs': { path: `${ws}/webhook-subscriptions/${sub.body.id}/logs`, maxLimit: 100 },
        'contact identifiers': { path: `${ws}/contacts/${contact.body.id}/identifiers`, maxLimit: 100 },
        "contact's lists": { path: `${ws}/contacts/${contact.body.id}/lists`, maxLimit: 100 },
        lists: { path: `${ws}/lists`, maxLimit: 100 },
        'list contacts': { path: `${ws}/lists/${list.body.id}/contacts`, maxLimit: 100 },
        workspaces: { path: `/organizations/${t.organizationId}/workspaces`, maxLimit: 100 },
      });
    });
    after(() => t?.close());

    const bad: [string, (max: number) => string, (max: number) => Record<string, string[]>][] = [
      ['limit=1e1', () => 'limit=1e1', (max) => ({ limit: [`must be an integer from 1 to ${max}`] })],
      ['limit=0', () => 'limit=0', (max) => ({ limit: [`must be an integer from 1 to ${max}`] })],
      ['limit over the maximum', (max) => `limit=${max + 1}`, (max) => ({ limit: [`must be an integer from 1 to ${max}`] })],
      ['limit=abc', () => 'limit=abc', (max) => ({ limit: [`must be an integer from 1 to ${max}`] })],
      ['repeated limit', () => 'limit=1&limit=2', () => ({ limit: ['must be given once'] })],
      ['repeated pageToken', () => 'pageToken=a&pageToken=b', () => ({ pageToken: ['must be given once'] })],
      ['bad pageToken', () => 'pageToken=bm90LWEtdG9rZW4', () => ({ pageToken: ['is not a valid page token'] })],
      ['bad reverse', () => 'reverse=maybe', () => ({ reverse: ['must be true or false'] })],
    ];
    for (const [name, query, details] of bad) {
      test(`${name}: the same 400 everywhere`, async () => {
        for (const [list, { path, maxLimit }] of Object.entries(lists)) {
          const res = await t.request('GET', `${path}?${query(maxLimit)}`);
          assert.equal(res.status, 400, `${list}: ${JSON.stringify(res.body)}`);
          assert.equal(res.body.code, 'InvalidParameters', list);
          assert.deepEqual(res.body.details, details(maxLimit), list);
        }
      });
    }

    test('a good limit, reverse and the token of the previous page work everywhere', async () => {
      for (const [list, { path }] of Object.entries(lists)) {
        const res = await t.request('GET', `${path}?limit=1&reverse=true`);
        assert.equal(res.status, 200, `${list}: ${JSON.stringify(res.body)}`);
        assert.ok(Array.isArray(res.body.results) && res.body.results.length <= 1, list);
        if (res.body.nextPageToken) {
          const next = await t.request('GET', `${path}?limit=1&reverse=true&pageToken=${encodeURIComponent(res.body.nextPageToken)}`);
          assert.equal(next.status, 200, list);
          assert.notDeepEqual(next.body.results[0], res.body.results[0], `${list}: the next page moves on`);
        }
      }
    });

    test('GET /channels pages with Bird parameters and filters by platform and status', async () => {
      const ws = `/workspaces/${t.workspaceId}/channels`;
      const first = await t.request('GET', `${ws}?limit=3`);
      assert.equal(first.body.results.length, 3);
      assert.ok(first.body.nextPageToken);
      const all: string[] = [];
      let token: string | null = null;
      do {
        const page: { body: { results: { id: string }[]; nextPageToken: string | null } } = await t.request('GET', `${ws}?limit=4${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
        all.push(...page.body.results.map((c) => c.id));
        token = page.body.nextPageToken;
      } while (token);
      const everything = await t.request('GET', `${ws}?limit=1000`);
      assert.deepEqual(all, everything.body.results.map((c: { id: string }) => c.id), 'pages add up to the whole list, in order');
      assert.equal(new Set(all).size, all.length);
      const reversed = await t.request('GET', `${ws}?limit=1000&reverse`);
      assert.deepEqual(reversed.body.results.map((c: { id: string }) => c.id), [...all].reverse());
      const defaultPage = await t.request('GET', ws);
      assert.equal(defaultPage.body.results.length, Math.min(10, all.length), 'Bird: 10 by default');

      const sms = await t.request('GET', `${ws}?platform=sms`);
      assert.deepEqual(sms.body.results.map((c: { id: string }) => c.id), [t.channel('sms')]);
      const byBirdId = await t.request('GET', `${ws}?platform=${sms.body.results[0].platformId}`);
      assert.deepEqual(byBirdId.body.results, sms.body.results);
      await t.request('PATCH', `${ws}/${t.channel('email')}`, { status: 'inactive' });
      const inactive = await t.request('GET', `${ws}?status=inactive`);
      assert.deepEqual(inactive.body.results.map((c: { id: string }) => c.id), [t.channel('email')]);
      const badFilter = await t.request('GET', `${ws}?platform=pigeon&status=gone`);
      assert.equal(badFilter.status, 400);
      assert.deepEqual(Object.keys(badFilter.body.details).sort(), ['platform', 'status']);
    });
  });
}
