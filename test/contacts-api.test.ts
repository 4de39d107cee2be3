import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import fc from 'fast-check';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

for (const kind of storeKinds()) {
  describe(`contacts API (${kind})`, () => {
    let t: TestAviary;
    const base = () => `/workspaces/${t.workspaceId}/contacts`;
    const create = async (body: unknown) => {
      const res = await t.request('POST', base(), body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    };
    const send = (platform: string, contact: unknown, extra: object = {}) =>
      t.request('POST', `/workspaces/${t.workspaceId}/channels/${t.channel(platform)}/messages`, {
        receiver: { contacts: [contact] },
        body: { type: 'text', text: { text: 'hi', ...(platform === 'email' ? { metadata: { subject: 's' } } : {}) } },
        ...extra,
      });

    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    test('POST /contacts creates (201) Bird\'s contact object, with derived attributes; GET returns it', async () => {
      const c = await create({
        displayName: 'Ann Smith',
        identifiers: [{ key: 'EmailAddress', value: ' Ann@Example.com ' }, { key: 'phonenumber', value: '+31612345678', properties: { countryCode: 'NL' } }],
        attributes: { firstName: 'Ann', age: 41, vip: true, tags: ['a', 'b'], nothing: null },
      });
      assert.deepEqual(Object.keys(c).sort(), ['attributes', 'computedDisplayName', 'createdAt', 'featuredIdentifiers', 'id', 'identifierCount', 'listIds', 'updatedAt', 'workspaceId']);
      assert.equal(c.computedDisplayName, 'Ann Smith');
      assert.equal(c.workspaceId, t.workspaceId);
      assert.equal(c.identifierCount, 2);
      assert.deepEqual(c.featuredIdentifiers.map((i: any) => `${i.key}=${i.value}`).sort(), ['emailaddress=ann@example.com', 'phonenumber=+31612345678']);
      assert.deepEqual(c.attributes, {
        firstName: 'Ann',
        age: 41,
        vip: true,
        tags: ['a', 'b'],
        nothing: null,
        displayName: 'Ann Smith',
        emailaddress: ['ann@example.com'],
        phonenumber: ['+31612345678'],
      });
      assert.deepEqual(c.listIds, []);
      const got = await t.request('GET', `${base()}/${c.id}?attribute=company&attribute=age`);
      assert.equal(got.status, 200);
      assert.equal(got.body.attributes.company, null);
      assert.equal(got.body.attributes.age, 41);
      assert.deepEqual({ ...got.body, attributes: undefined }, { ...c, attributes: undefined });
    });

    test('create errors: 422 with JSON paths, 409 ResourceAlreadyExists for a taken identifier, 400 without body', async () => {
      const missing = await t.request('POST', base(), { identifiers: [] });
      assert.equal(missing.status, 422);
      assert.deepEqual(missing.body.details, { '.': ['property "displayName" is required'] });
      const bad = await t.request('POST', base(), { displayName: 'x', identifiers: [{ key: 'phonenumber', value: '0612' }, { key: '1bad', value: 'v' }], attributes: { a: {} }, listIds: ['nope'] });
      assert.equal(bad.status, 422);
      assert.ok(bad.body.details['.identifiers[1].key']);
      assert.ok(bad.body.details['.attributes.a']);
      assert.ok(bad.body.details['.listIds[0]']);
      const phone = await t.request('POST', base(), { displayName: 'x', identifiers: [{ key: 'phonenumber', value: '0612' }] });
      assert.deepEqual(phone.body.details, { '.identifiers[0].value': ['must be a phone number in E.164 format, e.g. +31612345678'] });
      const unknownList = await t.request('POST', base(), { displayName: 'x', listIds: ['0190a000-0000-7000-8000-000000000000'] });
      assert.deepEqual(unknownList.body.details, { '.listIds[0]': ['list not found'] });

      await create({ displayName: 'A', identifiers: [{ key: 'emailaddress', value: 'a@example.com' }] });
      const dup = await t.request('POST', base(), { displayName: 'B', identifiers: [{ key: 'phonenumber', value: '+31600000001' }, { key: 'emailaddress', value: 'A@example.com' }] });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.code, 'ResourceAlreadyExists');
      // Nothing of the failed create remains: its other identifier is free.
      const list = await t.request('GET', base());
      assert.equal(list.body.results.length, 1);
      await create({ displayName: 'C', identifiers: [{ key: 'phonenumber', value: '+31600000001' }] });
      assert.equal((await t.request('POST', base())).status, 400);
    });

    test('racing creates of one identifier: exactly one wins, the others get 409', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => t.request('POST', base(), { displayName: `n${i}`, identifiers: [{ key: 'phonenumber', value: '+31699999999' }] })),
      );
      assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
    });

    test('GET /contacts pages by creation order, forwards and reverse, without gaps or repeats; bad parameters are 400', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await create({ displayName: `c${i}` })).id);
      const walk = async (reverse: boolean) => {
        const seen: string[] = [];
        let token: string | null = null;
        do {
          const res: any = await t.request('GET', `${base()}?limit=3${reverse ? '&reverse=true' : ''}${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
          assert.equal(res.status, 200, JSON.stringify(res.body));
          seen.push(...res.body.results.map((r: any) => r.id));
          token = res.body.nextPageToken;
        } while (token);
        return seen;
      };
      assert.deepEqual(await walk(false), ids);
      assert.deepEqual(await walk(true), [...ids].reverse());
      for (const q of ['limit=0', 'limit=101', 'limit=x', 'pageToken=zzz', 'reverse=maybe', 'limit=1&limit=2']) {
        const res = await t.request('GET', `${base()}?${q}`);
        assert.equal(res.status, 400, q);
        assert.equal(res.body.code, 'InvalidParameters');
      }
    });

    test('PATCH updates attributes, identifiers and lists; 404 for an unknown contact, 409 for a taken identifier', async () => {
      const list = (await t.request('POST', `/workspaces/${t.workspaceId}/lists`, { name: 'Newsletter' })).body;
      const other = await create({ displayName: 'Other', identifiers: [{ key: 'emailaddress', value: 'other@example.com' }] });
      const c = await create({ displayName: 'Ann', identifiers: [{ key: 'phonenumber', value: '+31612345678' }], attributes: { a: 1, b: 2 } });
      const res = await t.request('PATCH', `${base()}/${c.id}`, {
        attributes: { b: null, c: 'x', displayName: 'Ann B.' },
        addIdentifiers: [{ key: 'emailaddress', value: 'ann@example.com' }],
        removeIdentifiers: [{ key: 'phonenumber', value: '+31612345678' }],
        addToLists: [list.id],
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.computedDisplayName, 'Ann B.');
      assert.deepEqual(res.body.attributes, { a: 1, b: null, c: 'x', displayName: 'Ann B.', emailaddress: ['ann@example.com'] });
      assert.deepEqual(res.body.listIds, [list.id]);
      assert.ok(res.body.updatedAt >= c.updatedAt);
      assert.equal((await t.request('GET', `/workspaces/${t.workspaceId}/lists/${list.id}`)).body.contactCount, 1);

      const removed = await t.request('PATCH', `${base()}/${c.id}`, { removeFromLists: [list.id] });
      assert.deepEqual(removed.body.listIds, []);
      assert.equal((await t.request('GET', `/workspaces/${t.workspaceId}/lists/${list.id}`)).body.contactCount, 0);

      const taken = await t.request('PATCH', `${base()}/${c.id}`, { addIdentifiers: [{ key: 'emailaddress', value: 'other@example.com' }] });
      assert.equal(taken.status, 409);
      assert.equal(taken.body.code, 'ResourceAlreadyExists');
      assert.equal((await t.request('GET', `${base()}/${other.id}`)).body.identifierCount, 1);
      const unknown = await t.request('PATCH', `${base()}/0190a000-0000-7000-8000-000000000000`, { attributes: { a: 1 } });
      assert.equal(unknown.status, 404);
      assert.equal((await t.request('PATCH', `${base()}/not-a-uuid`, {})).status, 404);
      const bad = await t.request('PATCH', `${base()}/${c.id}`, { addToLists: ['0190a000-0000-7000-8000-000000000000'], nope: 1 });
      assert.equal(bad.status, 422);
      assert.deepEqual(bad.body.details, { '.': ['property "nope" is unsupported'] });
      const badList = await t.request('PATCH', `${base()}/${c.id}`, { addToLists: ['0190a000-0000-7000-8000-000000000000'] });
      assert.deepEqual(badList.body.details, { '.addToLists[0]': ['list not found'] });
    });

    test('DELETE removes the contact (204, then 404); its messages stay readable as sent, and a new send makes a new contact', async () => {
      const c = await create({ displayName: 'Ann', identifiers: [{ key: 'phonenumber', value: '+31612345678' }] });
      const sent = await send('sms', { id: c.id });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      assert.equal(sent.body.receiver.contacts[0].identifierValue, '+31612345678');
      assert.equal((await t.request('DELETE', `${base()}/${c.id}`)).status, 204);
      assert.equal((await t.request('DELETE', `${base()}/${c.id}`)).status, 404);
      assert.equal((await t.request('GET', `${base()}/${c.id}`)).status, 404);
      const msg = await t.request('GET', `/workspaces/${t.workspaceId}/messages/${sent.body.id}`);
      assert.equal(msg.status, 200);
      assert.deepEqual(msg.body.receiver, sent.body.receiver);
      const again = await send('sms', { identifierValue: '+31612345678' });
      assert.equal(again.status, 202);
      assert.notEqual(again.body.receiver.contacts[0].id, c.id);
      const listed = await t.request('GET', `${base()}/${again.body.receiver.contacts[0].id}`);
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.featuredIdentifiers, [{ key: 'phonenumber', value: '+31612345678' }]);
    });

    test('contacts created by sends list, get, patch and delete like any other', async () => {
      const sent = await send('sms', { identifierValue: '+31611111111' });
      const id = sent.body.receiver.contacts[0].id;
      const list = await t.request('GET', base());
      assert.deepEqual(list.body.results.map((r: any) => r.id), [id]);
      assert.equal(list.body.results[0].computedDisplayName, '+31611111111');
      const patched = await t.request('PATCH', `${base()}/${id}`, { displayName: 'Bob', addIdentifiers: [{ key: 'emailaddress', value: 'bob@example.com' }] });
      assert.equal(patched.status, 200);
      // The email send now reaches the same contact.
      const mail = await send('email', { identifierValue: 'bob@example.com' });
      assert.equal(mail.body.receiver.contacts[0].id, id);
      assert.equal((await t.request('DELETE', `${base()}/${id}`)).status, 204);
    });

    test('a send by contacts[].id uses the identifier that fits the platform, and is a clear 422 when there is none', async () => {
      const c = await create({ displayName: 'Ann', identifiers: [{ key: 'emailaddress', value: 'ann@example.com' }, { key: 'phonenumber', value: '+31612345678' }, { key: 'telegramid', value: '12345' }] });
      const sms = await send('sms', { id: c.id });
      assert.deepEqual([sms.body.receiver.contacts[0].identifierKey, sms.body.receiver.contacts[0].identifierValue], ['phonenumber', '+31612345678']);
      const mail = await send('email', { id: c.id });
      assert.deepEqual([mail.body.receiver.contacts[0].identifierKey, mail.body.receiver.contacts[0].identifierValue], ['emailaddress', 'ann@example.com']);
      const tg = await send('telegram', { id: c.id });
      assert.equal(tg.body.receiver.contacts[0].identifierValue, '12345');
      const fb = await create({ displayName: 'Fb', identifiers: [{ key: 'facebookid-4242', value: 'psid-1' }] });
      const viaPage = await send('facebook', { id: fb.id });
      assert.equal(viaPage.status, 202, JSON.stringify(viaPage.body));
      assert.deepEqual([viaPage.body.receiver.contacts[0].identifierKey, viaPage.body.receiver.contacts[0].identifierValue], ['facebookid-4242', 'psid-1']);
      const onlyEmail = await create({ displayName: 'E', identifiers: [{ key: 'emailaddress', value: 'e@example.com' }] });
      const none = await send('sms', { id: onlyEmail.id });
      assert.equal(none.status, 422);
      assert.deepEqual(none.body.details, { '.receiver.contacts[0].id': ['contact has no "phonenumber" identifier to reach it on SMS channels'] });
      const missing = await send('sms', { id: '0190a000-0000-7000-8000-000000000000' });
      assert.deepEqual(missing.body.details, { '.receiver.contacts[0].id': ['contact not found'] });
    });

    test('any string in any field, and any JSON body, gets a Bird-shaped answer, never a 500', async () => {
      // NUL is the one character PostgreSQL cannot store: each field gets it on purpose as well.
      const nul = { displayName: 'a\u0000' };
      for (const body of [nul, { displayName: 'x', attributes: { 'k\u0000': 1 } }, { displayName: 'x', attributes: { k: ['v\u0000'] } }, { displayName: 'x', identifiers: [{ key: 'telegramid', value: '1\u0000' }] }]) {
        const res = await t.request('POST', base(), body);
        assert.equal(res.status, 422, JSON.stringify(res.body));
      }
      assert.deepEqual((await t.request('POST', base(), nul)).body.details, { '.displayName': ['must not contain U+0000 (NUL)'] });
      assert.equal((await t.request('PATCH', `${base()}/identifiers/telegramid/a%00b`, {})).status, 400);
      assert.equal((await t.request('GET', `${base()}?identifierValue=%00`)).status, 400);
      assert.equal((await t.request('POST', `/workspaces/${t.workspaceId}/lists`, { name: 'a\u0000b' })).status, 422);
      const text = fc.string({ unit: 'binary', maxLength: 40 });
      await fc.assert(
        fc.asyncProperty(text, text, text, text, async (name, key, value, attr) => {
          const res = await t.request('POST', base(), { displayName: name, identifiers: [{ key, value }], attributes: { [attr]: value } });
          // A key named __proto__ is refused by the JSON parser itself (prototype poisoning), with a 400 that says so.
          if (attr === '__proto__') assert.match(res.body.message, /__proto__/);
          assert.ok([201, 409, 422].includes(res.status) || (attr === '__proto__' && res.status === 400), `${res.status} ${JSON.stringify(res.body)}`);
          if (res.status !== 201) assert.equal(typeof res.body.code, 'string');
          const up = await t.request('PATCH', `${base()}/identifiers/${encodeURIComponent(key) || 'x'}/${encodeURIComponent(value) || 'x'}`, { attributes: { [attr]: name } });
          assert.ok([200, 201, 400, 409, 422].includes(up.status), `${up.status} ${JSON.stringify(up.body)}`);
        }),
        { numRuns: 40 },
      );
      await fc.assert(
        fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (body) => {
          for (const [method, path] of [['POST', base()], ['PATCH', `${base()}/identifiers/emailaddress/a@example.com`], ['POST', `${base()}/search`]] as const) {
            const res = await t.request(method, path, JSON.stringify(body));
            assert.ok(res.status < 500, `${method} ${path} ${JSON.stringify(body)} -> ${res.status}`);
            assert.equal(typeof (res.body.code ?? res.body.id ?? res.body.results), res.body.code ? 'string' : res.body.id ? 'string' : 'object');
          }
        }),
        { numRuns: 40 },
      );
    });

    test('POST /contacts/search finds by identifier; 422 for a bad body', async () => {
      const c = await create({ displayName: 'Ann', identifiers: [{ key: 'emailaddress', value: 'ann@example.com' }] });
      const found = await t.request('POST', `${base()}/search`, { identifier: { key: 'emailaddress', value: 'ANN@example.com' } });
      assert.equal(found.status, 200);
      assert.deepEqual(found.body.results.map((r: any) => r.id), [c.id]);
      const none = await t.request('POST', `${base()}/search`, { identifier: { key: 'emailaddress', value: 'x@example.com' } });
      assert.deepEqual(none.body, { results: [] });
      const bad = await t.request('POST', `${base()}/search`, { identifier: { key: 'phonenumber', value: '123' } });
      assert.equal(bad.status, 422);
      assert.deepEqual(bad.body.details, { '.identifier.value': ['must be a phone number in E.164 format, e.g. +31612345678'] });
      const missing = await t.request('POST', `${base()}/search`, {});
      assert.deepEqual(missing.body.details, { '.': ['property "identifier" is required'] });
    });
  });
}
