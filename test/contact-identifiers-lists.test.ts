import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

const UNKNOWN = '0190a000-0000-7000-8000-000000000000';

for (const kind of storeKinds()) {
  describe(`contact identifiers, upsert and lists (${kind})`, () => {
    let t: TestAviary;
    const ws = () => `/workspaces/${t.workspaceId}`;
    const create = async (body: unknown) => {
      const res = await t.request('POST', `${ws()}/contacts`, body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    };
    const newList = async (name: string) => {
      const res = await t.request('POST', `${ws()}/lists`, { name });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    };

    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(() => t.reset());

    test('GET by identifier works with raw and percent-encoded values; 404 for an unknown one, 400 for a bad one', async () => {
      const c = await create({ displayName: 'Ann', identifiers: [{ key: 'emailaddress', value: 'ann@example.com' }, { key: 'phonenumber', value: '+31612345678' }] });
      for (const path of ['emailaddress/ann@example.com', 'emailaddress/ann%40example.com', 'emailaddress/Ann@Example.com', 'phonenumber/+31612345678', 'phonenumber/%2B31612345678']) {
        const res = await t.request('GET', `${ws()}/contacts/identifiers/${path}`);
        assert.equal(res.status, 200, path);
        assert.equal(res.body.id, c.id, path);
      }
      const none = await t.request('GET', `${ws()}/contacts/identifiers/emailaddress/x@example.com`);
      assert.equal(none.status, 404);
      assert.equal(none.body.code, 'NotFound');
      const bad = await t.request('GET', `${ws()}/contacts/identifiers/phonenumber/12`);
      assert.equal(bad.status, 400);
      assert.ok(bad.body.details.identifierValue);
    });

    test('upsert: 201 creates, 200 updates, an empty body returns the contact unchanged', async () => {
      const path = `${ws()}/contacts/identifiers/phonenumber/+31612345678`;
      const created = await t.request('PATCH', path, { displayName: 'Ann', attributes: { city: 'Utrecht' } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(created.body.featuredIdentifiers, [{ key: 'phonenumber', value: '+31612345678' }]);
      const updated = await t.request('PATCH', `${ws()}/contacts/identifiers/phonenumber/%2B31612345678`, { attributes: { city: 'Delft' }, addIdentifiers: [{ key: 'emailaddress', value: 'ann@example.com' }] });
      assert.equal(updated.status, 200);
      assert.equal(updated.body.id, created.body.id);
      assert.equal(updated.body.attributes.city, 'Delft');
      assert.equal(updated.body.identifierCount, 2);
      const empty = await t.request('PATCH', path, {});
      assert.equal(empty.status, 200);
      assert.deepEqual(empty.body, updated.body);
      const noBody = await t.request('PATCH', path);
      assert.deepEqual(noBody.body, updated.body);
      const bad = await t.request('PATCH', path, { strategy: 'best', attributes: 3 });
      assert.equal(bad.status, 422);
      assert.ok(bad.body.details['.strategy'] && bad.body.details['.attributes']);
    });

    test('upsert strategies: strict_alias refuses identifiers of two contacts, first_alias and first pick the first match', async () => {
      const a = await create({ displayName: 'A', identifiers: [{ key: 'phonenumber', value: '+31600000001' }] });
      const b = await create({ displayName: 'B', identifiers: [{ key: 'emailaddress', value: 'b@example.com' }] });
      const path = `${ws()}/contacts/identifiers/phonenumber/+31600000001`;
      const strict = await t.request('PATCH', path, { addIdentifiers: [{ key: 'emailaddress', value: 'b@example.com' }] });
      assert.equal(strict.status, 409);
      assert.equal(strict.body.code, 'ResourceAlreadyExists');
      const firstAlias = await t.request('PATCH', path, { strategy: 'first_alias', addIdentifiers: [{ key: 'emailaddress', value: 'b@example.com' }] });
      assert.equal(firstAlias.status, 409, 'adding the other contact\'s identifier fails');
      const firstAliasOk = await t.request('PATCH', path, { strategy: 'first_alias', addIdentifiers: [{ key: 'emailaddress', value: 'a@example.com' }] });
      assert.equal(firstAliasOk.status, 200);
      assert.equal(firstAliasOk.body.identifierCount, 2);
      const first = await t.request('PATCH', path, { strategy: 'first', attributes: { x: 1 }, addIdentifiers: [{ key: 'emailaddress', value: 'b@example.com' }, { key: 'telegramid', value: '9' }] });
      assert.equal(first.status, 200);
      assert.equal(first.body.id, a.id);
      assert.equal(first.body.identifierCount, 2, 'first adds nothing');
      const fresh = await t.request('PATCH', `${ws()}/contacts/identifiers/telegramid/77`, { strategy: 'first', addIdentifiers: [{ key: 'telegramid', value: '78' }] });
      assert.equal(fresh.status, 201);
      assert.deepEqual(fresh.body.featuredIdentifiers, [{ key: 'telegramid', value: '77' }]);
      // strict_alias via an added identifier: the path's identifier joins the contact that owns the other.
      const joined = await t.request('PATCH', `${ws()}/contacts/identifiers/phonenumber/+31600000002`, { addIdentifiers: [{ key: 'emailaddress', value: 'b@example.com' }] });
      assert.equal(joined.status, 200);
      assert.equal(joined.body.id, b.id);
      assert.equal(joined.body.identifierCount, 2);
    });

    test('concurrent upserts of one new identifier make one contact', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => t.request('PATCH', `${ws()}/contacts/identifiers/emailaddress/race@example.com`, { attributes: { [`k${i}`]: i } })),
      );
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 201]);
      assert.equal(new Set(results.map((r) => r.body.id)).size, 1);
      const final = await t.request('GET', `${ws()}/contacts/${results[0].body.id}`);
      for (let i = 0; i < 8; i++) assert.equal(final.body.attributes[`k${i}`], i);
    });

    test('identifiers of a contact: add (201, 409 when taken), list in pages, remove with a JSON body (204, 404)', async () => {
      const c = await create({ displayName: 'Ann', identifiers: [{ key: 'phonenumber', value: '+31612345678' }] });
      await create({ displayName: 'Other', identifiers: [{ key: 'emailaddress', value: 'taken@example.com' }] });
      const url = `${ws()}/contacts/${c.id}/identifiers`;
      const added = await t.request('POST', url, { key: 'emailaddress', value: 'Ann@Example.com', properties: { isGmail: false } });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.deepEqual({ ...added.body, createdAt: undefined }, { contactId: c.id, key: 'emailaddress', value: 'ann@example.com', properties: { isGmail: false }, createdAt: undefined });
      assert.equal((await t.request('POST', url, { key: 'emailaddress', value: 'taken@example.com' })).status, 409);
      assert.equal((await t.request('POST', url, { key: 'emailaddress', value: 'nope' })).status, 422);
      assert.equal((await t.request('POST', `${ws()}/contacts/${UNKNOWN}/identifiers`, { key: 'telegramid', value: '1' })).status, 404);
      await t.request('POST', url, { key: 'telegramid', value: '1' });
      const seen: string[] = [];
      let token: string | null = null;
      do {
        const res: any = await t.request('GET', `${url}?limit=2${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
        assert.equal(res.status, 200);
        seen.push(...res.body.results.map((r: any) => r.key));
        token = res.body.nextPageToken;
      } while (token);
      assert.deepEqual(seen, ['emailaddress', 'phonenumber', 'telegramid']);
      assert.equal((await t.request('GET', `${ws()}/contacts/${UNKNOWN}/identifiers`)).status, 404);
      assert.equal((await t.request('DELETE', url, { key: 'telegramid', value: '1' })).status, 204);
      assert.equal((await t.request('DELETE', url, { key: 'telegramid', value: '1' })).status, 404);
      assert.equal((await t.request('DELETE', url, { key: 'emailaddress', value: 'taken@example.com' })).status, 404, 'another contact\'s identifier');
      assert.equal((await t.request('DELETE', url, { key: 'x' })).status, 422);
      assert.equal((await t.request('GET', `${ws()}/contacts/${c.id}`)).body.identifierCount, 2);
    });

    test('lists: create, get, list, update, delete; 404 and 422', async () => {
      const l = await newList('Newsletter');
      assert.deepEqual(Object.keys(l).sort(), ['consentType', 'contactCount', 'counter', 'createdAt', 'description', 'id', 'isProof', 'name', 'tags', 'updatedAt']);
      assert.equal(l.contactCount, 0);
      assert.equal((await t.request('POST', `${ws()}/lists`, { name: 'x' })).status, 422);
      const noName = await t.request('POST', `${ws()}/lists`, { description: 'd' });
      assert.deepEqual(noName.body.details, { '.': ['property "name" is required'] });
      const l2 = await newList('Second');
      const all = await t.request('GET', `${ws()}/lists`);
      assert.deepEqual(all.body.results.map((x: any) => x.id), [l.id, l2.id]);
      const paged = await t.request('GET', `${ws()}/lists?limit=1`);
      const next = await t.request('GET', `${ws()}/lists?limit=1&pageToken=${encodeURIComponent(paged.body.nextPageToken)}`);
      assert.deepEqual(next.body.results.map((x: any) => x.id), [l2.id]);
      const upd = await t.request('PATCH', `${ws()}/lists/${l.id}`, { name: 'Weekly', description: 'Once a week', consentType: 'single', isProof: true });
      assert.equal(upd.status, 200);
      assert.deepEqual([upd.body.name, upd.body.description, upd.body.consentType, upd.body.isProof], ['Weekly', 'Once a week', 'single', true]);
      assert.equal((await t.request('GET', `${ws()}/lists/${l.id}`)).body.name, 'Weekly');
      assert.equal((await t.request('PATCH', `${ws()}/lists/${UNKNOWN}`, { name: 'zz' })).status, 404);
      assert.equal((await t.request('DELETE', `${ws()}/lists/${l.id}`)).status, 204);
      assert.equal((await t.request('DELETE', `${ws()}/lists/${l.id}`)).status, 404);
      assert.equal((await t.request('GET', `${ws()}/lists/${l.id}`)).status, 404);
      assert.equal((await t.request('GET', `${ws()}/lists/nope`)).status, 404);
    });

    test('list members: add and remove by contact id and identifier, {itemsProcessed}, counts, pages, a contact\'s lists', async () => {
      const l = await newList('Members');
      const other = await newList('Other');
      const contacts: any[] = [];
      for (let i = 0; i < 5; i++) contacts.push(await create({ displayName: `c${i}`, identifiers: [{ key: 'phonenumber', value: `+3160000000${i}` }] }));
      const url = `${ws()}/lists/${l.id}/contacts`;
      const added = await t.request('POST', url, {
        contacts: [contacts[0].id, contacts[1].id, UNKNOWN],
        identifiers: [{ key: 'phonenumber', value: '+31600000002' }, { key: 'phonenumber', value: '+31699999999' }],
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.deepEqual(added.body, { itemsProcessed: 3 });
      await t.request('POST', url, { contacts: [contacts[3].id, contacts[0].id] });
      assert.equal((await t.request('GET', `${ws()}/lists/${l.id}`)).body.contactCount, 4);
      const members: string[] = [];
      let token: string | null = null;
      do {
        const res: any = await t.request('GET', `${url}?limit=3${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
        assert.equal(res.status, 200);
        members.push(...res.body.results.map((r: any) => r.id));
        token = res.body.nextPageToken;
      } while (token);
      assert.deepEqual(members, [0, 1, 2, 3].map((i) => contacts[i].id));
      assert.deepEqual((await t.request('GET', `${ws()}/contacts/${contacts[0].id}`)).body.listIds, [l.id]);
      await t.request('POST', `${ws()}/lists/${other.id}/contacts`, { contacts: [contacts[0].id] });
      const lists = await t.request('GET', `${ws()}/contacts/${contacts[0].id}/lists`);
      assert.deepEqual(lists.body.results.map((x: any) => x.id).sort(), [l.id, other.id].sort());
      assert.equal((await t.request('GET', `${ws()}/contacts/${UNKNOWN}/lists`)).status, 404);

      const removed = await t.request('DELETE', url, { contacts: [contacts[1].id], identifiers: [{ key: 'phonenumber', value: '+31600000002' }] });
      assert.equal(removed.status, 200);
      assert.deepEqual(removed.body, { itemsProcessed: 2 });
      assert.equal((await t.request('GET', `${ws()}/lists/${l.id}`)).body.contactCount, 2);
      // Deleting a member keeps the count right; deleting the list empties the contact's listIds.
      await t.request('DELETE', `${ws()}/contacts/${contacts[3].id}`);
      assert.equal((await t.request('GET', `${ws()}/lists/${l.id}`)).body.contactCount, 1);
      await t.request('DELETE', `${ws()}/lists/${l.id}`);
      assert.deepEqual((await t.request('GET', `${ws()}/contacts/${contacts[0].id}`)).body.listIds, [other.id]);

      const tooMany = await t.request('POST', `${ws()}/lists/${other.id}/contacts`, { contacts: Array.from({ length: 60 }, () => UNKNOWN), identifiers: Array.from({ length: 41 }, () => ({ key: 'telegramid', value: '1' })) });
      assert.equal(tooMany.status, 422);
      assert.deepEqual(tooMany.body.details, { '.': ['must name at most 100 contacts and identifiers in all'] });
      const empty = await t.request('POST', `${ws()}/lists/${other.id}/contacts`, {});
      assert.equal(empty.status, 422);
      const badId = await t.request('POST', `${ws()}/lists/${other.id}/contacts`, { contacts: ['x'] });
      assert.ok(badId.body.details['.contacts[0]']);
      assert.equal((await t.request('POST', `${ws()}/lists/${UNKNOWN}/contacts`, { contacts: [contacts[0].id] })).status, 404);
      assert.equal((await t.request('GET', `${ws()}/lists/${UNKNOWN}/contacts`)).status, 404);
    });

    test('create and upsert with listIds put the contact into the lists', async () => {
      const l = await newList('Signups');
      const c = await create({ displayName: 'A', listIds: [l.id] });
      assert.deepEqual(c.listIds, [l.id]);
      const u = await t.request('PATCH', `${ws()}/contacts/identifiers/emailaddress/u@example.com`, { listIds: [l.id] });
      assert.equal(u.status, 201);
      assert.deepEqual(u.body.listIds, [l.id]);
      assert.equal((await t.request('GET', `${ws()}/lists/${l.id}`)).body.contactCount, 2);
      const replaced = await t.request('PATCH', `${ws()}/contacts/${c.id}`, { listIds: [] });
      assert.deepEqual(replaced.body.listIds, []);
      assert.equal((await t.request('GET', `${ws()}/lists/${l.id}`)).body.contactCount, 1);
    });

    test('every query is scoped to the workspace: another workspace\'s contact or list is 404', async () => {
      const c = await create({ displayName: 'A', identifiers: [{ key: 'telegramid', value: '5' }] });
      const l = await newList('Mine');
      const other = await t.aviary.ctx.db
        .insertInto('workspaces')
        .values({ id: '0190a000-0000-7000-8000-0000000000aa', organization_id: t.organizationId, name: 'other' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const o = `/workspaces/${other.id}`;
      assert.equal((await t.request('GET', `${o}/contacts/${c.id}`)).status, 404);
      assert.equal((await t.request('DELETE', `${o}/contacts/${c.id}`)).status, 404);
      assert.equal((await t.request('GET', `${o}/contacts/identifiers/telegramid/5`)).status, 404);
      assert.equal((await t.request('GET', `${o}/lists/${l.id}`)).status, 404);
      assert.deepEqual((await t.request('GET', `${o}/contacts`)).body.results, []);
      // The same identifier is free in the other workspace.
      assert.equal((await t.request('POST', `${o}/contacts`, { displayName: 'B', identifiers: [{ key: 'telegramid', value: '5' }] })).status, 201);
    });
  });
}
