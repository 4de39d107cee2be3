import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { checkSubscriptionUrl, guardedLookup, isNonPublicAddress } from '../src/webhooks/url-guard.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// Where webhooks may go. With webhookAllowPrivateUrls on (the default, for development) anything http(s)
// goes; with it off (production) URLs must be https with a domain name resolving to public addresses,
// checked at creation and again, on the address actually connected to, at every delivery.

describe('webhook URL guard', () => {
  test('non-public addresses', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:a9fe:a9fe', '64:ff9b::10.0.0.1', '2001:db8::1']) {
      assert.equal(isNonPublicAddress(a), true, a);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) assert.equal(isNonPublicAddress(a), false, a);
  });

  test('creation rules, permissive and strict', async () => {
    const resolve = (map: Record<string, string[]>) => async (host: string) => {
      if (!map[host]) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return map[host];
    };
    const dns = resolve({ 'hooks.example.com': ['93.184.216.34'], 'internal.example.com': ['10.0.0.5'], 'rebind.example.com': ['93.184.216.34', '127.0.0.1'] });
    for (const url of ['http://localhost:3000/hook', 'http://127.0.0.1/x', 'https://hooks.example.com/bird', 'http://[::1]:8080/']) {
      assert.deepEqual(await checkSubscriptionUrl(url, true, dns), [], url);
    }
    for (const url of ['ftp://example.com/x', 'nonsense', 'https://user:pass@example.com/', 'https://example.com/#frag']) {
      assert.notDeepEqual(await checkSubscriptionUrl(url, true, dns), [], url);
    }
    assert.deepEqual(await checkSubscriptionUrl('https://hooks.example.com/bird', false, dns), []);
    assert.deepEqual(await checkSubscriptionUrl('https://unknown.example.com/bird', false, dns), [], 'a name that does not resolve yet is checked at delivery');
    for (const url of [
      'http://hooks.example.com/bird',
      'https://127.0.0.1/x',
      'https://[::1]/x',
      'https://localhost/x',
      'https://hooks.example.com:8443/x',
      'https://internal.example.com/x',
      'https://rebind.example.com/x',
    ]) {
      assert.notDeepEqual(await checkSubscriptionUrl(url, false, dns), [], url);
    }
  });

  test('the delivery-time lookup refuses loopback', async () => {
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => guardedLookup('localhost', { all: true }, (e) => resolve(e)));
    assert.ok(err);
    assert.match(err.message, /not a public address/);
  });
});

for (const kind of storeKinds()) {
  describe(`webhook URLs in production mode (${kind})`, () => {
    let t: TestAviary;
    before(async () => {
      t = await startTestAviary(kind, { webhookAllowPrivateUrls: false, webhookRetryBaseMs: 30, webhookRetryMaxDelayMs: 100 });
    });
    after(() => t.close());

    test('refused at creation and update, and at delivery when the name resolves to loopback', async () => {
      const base = `/organizations/${t.organizationId}/workspaces/${t.workspaceId}/webhook-subscriptions`;
      for (const url of ['http://hooks.example.com/x', 'https://127.0.0.1/x', 'https://localhost/x']) {
        const res = await t.request('POST', base, { service: 'channels', event: 'sms.outbound', url });
        assert.equal(res.status, 422, url);
        assert.ok(res.body.details['.url'], url);
      }
      const ok = await t.request('POST', base, { service: 'channels', event: 'sms.outbound', url: 'https://hooks.example.com/bird', eventFilters: [{ key: 'messageStatus', value: 'accepted' }] });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      assert.equal((await t.request('PATCH', `${base}/${ok.body.id}`, { url: 'http://hooks.example.com/bird' })).status, 422);

      // A URL stored as acceptable that now points at loopback (DNS changed): refused when sending.
      await sql`update webhook_subscriptions set url = 'https://localhost:1/hook' where id = ${ok.body.id}`.execute(t.aviary.ctx.db);
      const sent = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`, {
        receiver: { contacts: [{ identifierValue: '+31612345678' }] },
        body: { type: 'text', text: { text: 'hi' } },
      });
      assert.equal(sent.status, 202);
      let details: any;
      for (let i = 0; i < 200; i++) {
        const logs = await t.request('GET', `${base}/${ok.body.id}/logs`);
        const entry = logs.body.results[0];
        if (entry?.attemptCount >= 1) {
          details = (await t.request('GET', `${base}/${ok.body.id}/logs/details?requestId=${entry.requestId}`)).body;
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(details, 'an attempt was recorded');
      assert.match(details.results[0].error, /not a public address/);
      assert.equal(details.results[0].httpStatusCode, null);
      assert.equal(details.executionStatus, 'pending', 'retried: the DNS answer may change back');
    });
  });
}
