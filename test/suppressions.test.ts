import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

for (const kind of storeKinds()) {
  describe(`suppressions API (${kind})`, () => {
    let t: TestAviary;
    const base = () => `/workspaces/${t.workspaceId}/suppressions`;
    const add = async (body: unknown) => {
      const res = await t.request('POST', base(), body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    };
    const sendSms = async (to: string) => {
      const res = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`, {
        receiver: { contacts: [{ identifierValue: to }] },
        body: { type: 'text', text: { text: 'hi' } },
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body;
    };

    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    test('POST creates an entry (201) and is idempotent; email addresses are normalised like receivers', async () => {
      const s = await add({ identifierKey: 'emailaddress', identifierValue: ' Ann@Example.com ', reason: 'asked by phone' });
      assert.deepEqual(Object.keys(s), ['identifierKey', 'identifierValue', 'reason', 'createdAt']);
      assert.equal(s.identifierKey, 'emailaddress');
      assert.equal(s.identifierValue, 'ann@example.com');
      assert.equal(s.reason, 'asked by phone');
      assert.ok(!Number.isNaN(Date.parse(s.createdAt)));
      const again = await add({ identifierKey: 'EmailAddress', identifierValue: 'ann@example.com', reason: 'other' });
      assert.deepEqual(again, s);
      const noReason = await add({ identifierKey: 'phonenumber', identifierValue: '+31612345678' });
      assert.equal(noReason.reason, null);
      const listed = await t.request('GET', base());
      assert.equal(listed.body.results.length, 2);
    });

    test('GET lists newest first, filters by identifierValue / identifierKey, and pages without gaps or repeats', async () => {
      const values = ['+31600000001', '+31600000002', '+31600000003', '+31600000004', '+31600000005'];
      for (const v of values) await add({ identifierKey: 'phonenumber', identifierValue: v });
      await add({ identifierKey: 'emailaddress', identifierValue: 'bob@example.com' });

      const all = await t.request('GET', `${base()}?limit=100`);
      assert.equal(all.status, 200);
      assert.equal(all.body.nextPageToken, null);
      assert.deepEqual(all.body.results.map((r: any) => r.identifierValue), ['bob@example.com', ...[...values].reverse()]);

      const seen: string[] = [];
      let token: string | null = null;
      let pages = 0;
      do {
        const res: any = await t.request('GET', `${base()}?limit=2${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.ok(res.body.results.length <= 2);
        seen.push(...res.body.results.map((r: any) => r.identifierValue));
        token = res.body.nextPageToken;
        pages++;
      } while (token);
      assert.equal(pages, 3);
      assert.deepEqual(seen, all.body.results.map((r: any) => r.identifierValue));

      const one = await t.request('GET', `${base()}?identifierValue=${encodeURIComponent('+31600000003')}`);
      assert.deepEqual(one.body.results.map((r: any) => r.identifierValue), ['+31600000003']);
      const mixedCase = await t.request('GET', `${base()}?identifierValue=Bob@Example.com`);
      assert.deepEqual(mixedCase.body.results.map((r: any) => r.identifierValue), ['bob@example.com']);
      const byKey = await t.request('GET', `${base()}?identifierKey=emailaddress`);
      assert.equal(byKey.body.results.length, 1);
      const none = await t.request('GET', `${base()}?identifierValue=nobody`);
      assert.deepEqual(none.body, { results: [], nextPageToken: null });
    });

    test('DELETE removes an entry (204), then 404; path values are URL-decoded and normalised', async () => {
      await add({ identifierKey: 'phonenumber', identifierValue: '+31612345678' });
      await add({ identifierKey: 'emailaddress', identifierValue: 'ann@example.com' });
      const del = await t.request('DELETE', `${base()}/phonenumber/${encodeURIComponent('+31612345678')}`);
      assert.equal(del.status, 204);
      assert.equal(del.body, undefined);
      const again = await t.request('DELETE', `${base()}/phonenumber/${encodeURIComponent('+31612345678')}`);
      assert.equal(again.status, 404);
      assert.equal(again.body.code, 'NotFound');
      assert.equal((await t.request('DELETE', `${base()}/emailaddress/Ann@Example.com`)).status, 204);
      assert.deepEqual((await t.request('GET', base())).body.results, []);
      assert.equal((await t.request('DELETE', `${base()}/phonenumber`)).status, 404);
    });

    test('a suppressed receiver is skipped; removing the entry lets sends through again', async () => {
      await add({ identifierKey: 'phonenumber', identifierValue: '+31612345678', reason: 'STOP' });
      const m = await sendSms('+31612345678');
      const skipped = await t.waitForStatus(m.id, 'skipped');
      assert.equal(skipped.reason, 'suppressed');
      assert.equal((await t.request('DELETE', `${base()}/phonenumber/${encodeURIComponent('+31612345678')}`)).status, 204);
      const m2 = await sendSms('+31612345678');
      await t.waitForStatus(m2.id, 'delivered');
    });

    test('entries belong to their workspace', async () => {
      await add({ identifierKey: 'phonenumber', identifierValue: '+31612345678' });
      const other = await t.request('GET', `/workspaces/00000000-0000-4000-8000-000000000000/suppressions`);
      assert.ok(other.status === 403 || other.status === 404, String(other.status));
    });

    test('bad input is 4xx with Bird-shaped errors, never 500', async () => {
      const bodies: [unknown, string][] = [
        [{ identifierValue: '+31612345678' }, '.'],
        [{ identifierKey: 'phonenumber' }, '.'],
        [{ identifierKey: 'phone number', identifierValue: '+31612345678' }, '.identifierKey'],
        [{ identifierKey: '', identifierValue: '+31612345678' }, '.identifierKey'],
        [{ identifierKey: 'phonenumber', identifierValue: '' }, '.identifierValue'],
        [{ identifierKey: 'phonenumber', identifierValue: '   ' }, '.identifierValue'],
        [{ identifierKey: 'phonenumber', identifierValue: 'x'.repeat(321) }, '.identifierValue'],
        [{ identifierKey: 'phonenumber', identifierValue: 31612345678 }, '.identifierValue'],
        [{ identifierKey: 'phonenumber', identifierValue: '+31612345678', reason: 'x'.repeat(501) }, '.reason'],
        [{ identifierKey: 'phonenumber', identifierValue: '+31612345678', reason: 5 }, '.reason'],
        [{ identifierKey: 'phonenumber', identifierValue: '+31612345678', extra: true }, '.'],
        [[], '.'],
        ['"x"', '.'],
        ['null', '.'],
      ];
      for (const [body, key] of bodies) {
        const res = await t.request('POST', base(), body);
        assert.equal(res.status, 422, `${JSON.stringify(body)} -> ${res.status} ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'InvalidPayload');
        assert.ok(res.body.details[key], `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`);
      }
      assert.equal((await t.request('POST', base())).status, 400);
      assert.equal((await t.request('POST', base(), '{"identifierKey":')).status, 400);
      assert.equal((await t.request('POST', base(), 'identifierKey=x', { 'content-type': 'application/x-www-form-urlencoded' })).status, 415);

      for (const q of ['limit=0', 'limit=101', 'limit=abc', 'limit=1.5', 'limit=1&limit=2', 'pageToken=garbage', `pageToken=${Buffer.from('["x","a","b"]').toString('base64')}`, `pageToken=${Buffer.from('[1,2,3]').toString('base64')}`, 'identifierKey=has%20space', 'identifierValue=a&identifierValue=b']) {
        const res = await t.request('GET', `${base()}?${q}`);
        assert.equal(res.status, 400, `${q} -> ${res.status} ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'InvalidParameters');
      }
      const longValue = await t.request('DELETE', `${base()}/phonenumber/${'9'.repeat(190)}`);
      assert.equal(longValue.status, 404);
    });
  });
}
