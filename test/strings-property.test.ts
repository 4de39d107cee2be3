import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// The string rule (docs/api.md), tested by property: arbitrary strings, NUL and lone surrogates
// included, go into every string field of every JSON body, every query parameter and every path
// parameter the OpenAPI document describes, and nothing ever answers 5xx. A string the store cannot
// hold must be refused where it enters (422 naming its JSON path, 400 naming the parameter), never
// stored altered. The operations, fields and parameters are read from /openapi.json, so a newly
// documented endpoint is covered without touching this file (unless it needs a new path fixture).

type Json = any;
type Seg = string | number;

// The test's own statement of the rule, independent of the product's.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const bad = (s: string) => UNSTORABLE.test(s);
const wellFormed = (s: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

/** Random cases per test, spread over all fields or parameters on top of the fixed ones; bounded so a store takes < 40 s. */
const RUNS = { body: 150, query: 150, path: 150 };

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const special = fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d', '\ude00', 'a', '+', '@', '.', '/', '{', '}');
/** Any string: code points, graphemes, raw UTF-16 code units (lone surrogates), and mixes of the nasty ones. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: codeUnit, maxLength: 20 }),
  fc.string({ unit: fc.oneof(special, codeUnit), maxLength: 10 }),
);
/** Mostly arbitrary, sometimes glued to the documented value so that structured fields get past their own checks. */
const around = (original: string | undefined) =>
  original === undefined ? anyString : fc.oneof(anyString, anyString.map((s) => original + s), anyString.map((s) => s + original));

/** A URL component with every code unit kept: lone surrogates as WTF-8 bytes (what a sloppy client sends). */
function encodeComponent(s: string): string {
  if (wellFormed(s)) return encodeURIComponent(s);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
    if (pair) {
      out += encodeURIComponent(s.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else out += encodeURIComponent(s[i]);
  }
  return out;
}

function jsonPathOf(segs: Seg[]): string {
  let out = '';
  for (const s of segs) out += typeof s === 'number' ? `[${s}]` : `.${s}`;
  return out || '.';
}

interface Operation {
  method: string;
  path: string;
  id: string;
  query: { name: string; schema: Json }[];
  pathParams: string[];
  example?: Json;
}

function operationsOf(spec: Json): Operation[] {
  const params = (list: Json[] = []) => list.map((p) => (p.$ref ? spec.components.parameters[p.$ref.split('/').pop()] : p));
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<Json>(spec.paths)) {
    for (const [method, op] of Object.entries<Json>(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const all = [...params(item.parameters), ...params(op.parameters)];
      const content = op.requestBody?.content ?? {};
      out.push({
        method: method.toUpperCase(),
        path,
        id: op.operationId ?? `${method} ${path}`,
        query: all.filter((p) => p.in === 'query'),
        pathParams: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]),
        example: content['application/json']?.example,
      });
    }
  }
  return out;
}

type Slot = { at: Seg[]; kind: 'value' | 'key'; original?: string };

/**
 * Every place a string goes in a body: each string in the documented example, each optional string
 * property its schema allows but the example leaves out, and a new key in each object (free-form
 * maps such as connector.config keep it; closed objects refuse it, which is fine).
 */
function stringSlots(spec: Json, example: Json, schema: Json): Slot[] {
  const resolve = (s: Json): Json => (s?.$ref ? resolve(spec.components.schemas[s.$ref.split('/').pop()]) : s);
  const branches = (s: Json): Json[] => {
    const r = resolve(s);
    if (!r || typeof r !== 'object') return [];
    return [r, ...['allOf', 'oneOf', 'anyOf'].flatMap((k) => (r[k] ?? []).flatMap(branches)), ...['then', 'else'].flatMap((k) => (r[k] ? branches(r[k]) : []))];
  };
  const properties = (s: Json): Record<string, Json> => Object.assign({}, ...branches(s).map((b) => b.properties ?? {}));
  const items = (s: Json): Json => branches(s).find((b) => b.items)?.items;
  const isString = (s: Json) => branches(s).some((b) => b.type === 'string' || (Array.isArray(b.type) && b.type.includes('string')));
  const slots: Slot[] = [];
  const walk = (v: Json, s: Json, at: Seg[]) => {
    if (typeof v === 'string') slots.push({ at, kind: 'value', original: v });
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, items(s), [...at, i]));
    else if (v && typeof v === 'object') {
      slots.push({ at, kind: 'key' });
      const props = properties(s);
      for (const [k, x] of Object.entries(v)) walk(x, props[k], [...at, k]);
      for (const [k, p] of Object.entries(props)) if (!(k in v) && isString(p)) slots.push({ at: [...at, k], kind: 'value' });
    }
  };
  walk(example, schema, []);
  return slots;
}

function withString(example: Json, slot: Slot, s: string): Json {
  const body = structuredClone(example);
  if (slot.at.length === 0) return slot.kind === 'key' ? { ...body, [s]: 'x' } : s;
  let parent = body;
  for (const seg of slot.at.slice(0, -1)) parent = parent[seg];
  const last = slot.at[slot.at.length - 1];
  if (slot.kind === 'value') parent[last] = s;
  else parent[last] = { ...parent[last], [s]: 'x' };
  return body;
}

for (const kind of storeKinds()) {
  describe(`every string that enters (${kind})`, () => {
    let t: TestAviary;
    let spec: Json;
    let ops: Operation[];
    const fixtures: Record<string, string> = {};
    /** PATCH /channels/{id} deactivates its channel: it gets one of its own, so sends keep reaching the store. */
    let scratchChannel: string;

    before(async () => {
      // API only: what is under test is where strings enter; a worker dispatching the hundreds of
      // accepted messages would only compete for PGlite's one connection.
      t = await startTestAviary(kind, { roles: ['api'] });
      spec = await (await fetch(`${t.url}/openapi.json`)).json();
      ops = operationsOf(spec);
      const ws = `/workspaces/${t.workspaceId}`;
      const sms = t.channel('sms');
      const example = (id: string) => ops.find((o) => o.id === id)!.example;
      const ok = async (method: string, path: string, body?: Json) => {
        const r = await t.request(method, path, body);
        assert.ok(r.status < 300, `fixture ${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      };
      const sent = await ok('POST', `${ws}/channels/${sms}/messages`, example('createChannelMessage'));
      const project = await ok('POST', `${ws}/projects`, example('createTemplateProject'));
      const version = await ok('POST', `${ws}/projects/${project.id}/channel-templates`, example('createChannelTemplate'));
      const hook = await ok('POST', `${ws}/webhook-subscriptions`, example('createWebhookSubscription'));
      const media = await ok('POST', `${ws}/channel-media/presigned-upload`, { contentType: 'image/png' });
      scratchChannel = (await ok('POST', `${ws}/channels`, example('createChannel'))).id;
      const list = await ok('POST', `${ws}/lists`, example('createList'));
      Object.assign(fixtures, {
        workspaceId: t.workspaceId,
        organizationId: t.organizationId,
        channelId: sms,
        messageId: sent.id,
        contactId: sent.receiver.contacts[0].id,
        projectId: project.id,
        versionId: version.id,
        webhookSubscriptionId: hook.id,
        requestId: '00000000-0000-4000-8000-000000000000',
        mediaId: String(media.mediaUrl).match(/[0-9a-f]{8}-[0-9a-f-]{27}/g)!.pop()!,
        listId: list.id,
        identifierKey: 'phonenumber',
        identifierValue: '+31612345678',
        type: 'sandbox',
        callback: 'events',
      });
    });
    after(() => t?.close());

    const pathOf = (op: Operation, values: Record<string, string> = {}) =>
      op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
        if (name in values) return values[name];
        if (name === 'channelId' && op.method === 'PATCH' && op.path.endsWith('/channels/{channelId}')) return scratchChannel;
        const v = fixtures[name];
        assert.ok(v !== undefined, `${op.id}: no fixture for path parameter {${name}}; add one to this test`);
        return encodeURIComponent(v);
      });

    const send = (body: Json, channel = t.channel('sms')) => t.request('POST', `/workspaces/${t.workspaceId}/channels/${channel}/messages`, JSON.stringify(body));
    const text = (s: string) => ({ receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'text', text: { text: s } } });
    const NUL = 'must not contain U+0000 (NUL)';

    test("the issue's examples: 422 or 400 naming the field, not 500", async () => {
      const nul = await send(text('a\u0000b'));
      assert.equal(nul.status, 422);
      assert.deepEqual(nul.body, { code: 'InvalidPayload', message: 'One or more fields provided in the request body are malformed', details: { '.body.text.text': [NUL] } });
      const lone = await send(text('a\ud800b'));
      assert.equal(lone.status, 422);
      assert.deepEqual(lone.body.details, { '.body.text.text': ['must not contain an unpaired surrogate (U+D800)'] });
      for (const list of [`/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`, `/workspaces/${t.workspaceId}/messages`]) {
        const q = await t.request('GET', `${list}?from=%00`);
        assert.equal(q.status, 400);
        assert.deepEqual(q.body, { code: 'InvalidParameters', message: 'One or more query parameters are invalid', details: { from: [NUL] } });
      }
      const batch = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/batch/messages`, JSON.stringify({ messageRequests: [text('ok'), text('\udc00')] }));
      assert.equal(batch.status, 422);
      assert.deepEqual(batch.body.details, { '.messageRequests[1].body.text.text': ['must not contain an unpaired surrogate (U+DC00)'] });
      const contacts = await t.request('GET', `/workspaces/${t.workspaceId}/contacts?identifierValue=x%00`);
      assert.deepEqual(contacts.body.details, { identifierValue: [NUL] });
      const unsuppress = await t.request('DELETE', `/workspaces/${t.workspaceId}/suppressions/phonenumber/%2B316%00`);
      assert.equal(unsuppress.status, 400);
      assert.deepEqual(unsuppress.body, { code: 'InvalidParameters', message: 'One or more path parameters are invalid', details: { identifierValue: [NUL] } });
    });

    test('keys of free-form objects follow the same rule, and are written escaped in the path', async () => {
      const r = await t.request('POST', `/workspaces/${t.workspaceId}/channels`, JSON.stringify({ name: 'n', platform: 'sms', connector: { type: 'sandbox', config: { 'k\u0000': 1, ok: '\ud83d' } } }));
      assert.equal(r.status, 422);
      assert.deepEqual(r.body.details, {
        '.connector.config.k\\u0000': [`property name ${NUL}`],
        '.connector.config.ok': ['must not contain an unpaired surrogate (U+D83D)'],
      });
    });

    test('emoji, CJK, combining marks and astral characters are stored and answered byte for byte', async () => {
      const value = '中文テキスト 😀 👩‍👩‍👧 🇳🇱 e\u0301 𝄞 \u200d\ufeff end';
      const sent = await send({ ...text(value), reference: value });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      const got = await t.request('GET', `/workspaces/${t.workspaceId}/messages/${sent.body.id}`);
      assert.equal(got.body.body.text.text, value);
      assert.equal(got.body.reference, value);
      const project = await t.request('POST', `/workspaces/${t.workspaceId}/projects`, JSON.stringify({ name: value, type: 'channelTemplate', description: value }));
      assert.equal(project.status, 201, JSON.stringify(project.body));
      const back = await t.request('GET', `/workspaces/${t.workspaceId}/projects/${project.body.id}`);
      assert.equal(back.body.name, value);
      assert.equal(back.body.description, value);
    });

    test('a project name with a lone surrogate is refused, not stored as U+FFFD', async () => {
      const before = (await t.request('GET', `/workspaces/${t.workspaceId}/projects?limit=100`)).body.results.length;
      const r = await t.request('POST', `/workspaces/${t.workspaceId}/projects`, JSON.stringify({ name: 'shipping \ud800', type: 'channelTemplate' }));
      assert.equal(r.status, 422);
      assert.deepEqual(r.body.details, { '.name': ['must not contain an unpaired surrogate (U+D800)'] });
      const after = (await t.request('GET', `/workspaces/${t.workspaceId}/projects?limit=100`)).body.results;
      assert.equal(after.length, before);
      assert.ok(!after.some((p: Json) => p.name.includes('\ufffd')));
    });

    /** Every field first gets these (two the store cannot hold, one it can), then random strings spread over all fields. */
    const FIXED = ['a\u0000b', 'x\ud800\udc00\udc00y', '中文 😀 ✓ é'];

    async function everywhere<C>(cases: C[], gen: (c: C) => fc.Arbitrary<string>, runs: number, check: (c: C, s: string) => Promise<void>) {
      for (const c of cases) for (const s of FIXED) await check(c, s);
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...cases).chain((c) => fc.tuple(fc.constant(c), gen(c))), ([c, s]) => check(c, s)),
        { numRuns: runs },
      );
    }

    test('every string field of every documented JSON body: refused with its path when unstorable, never 5xx', async () => {
      const cases = ops
        .filter((o) => o.example !== undefined)
        .flatMap((op) => {
          const schema = spec.paths[op.path][op.method.toLowerCase()].requestBody.content['application/json'].schema;
          // Items of one array share a schema: the first of each stands for the others.
          const seen = new Set<string>();
          return stringSlots(spec, op.example, schema)
            .filter((slot) => {
              const shape = `${slot.kind} ${slot.at.map((x) => (typeof x === 'number' ? '[]' : x)).join('.')}`;
              return !seen.has(shape) && !!seen.add(shape);
            })
            .map((slot) => ({ op, slot }));
        });
      let stored = 0;
      await everywhere(cases, (c) => around(c.slot.original), RUNS.body, async ({ op, slot }, s) => {
        const where = `${op.id} ${slot.kind} ${jsonPathOf(slot.at)} = ${JSON.stringify(s)}`;
        const r = await t.request(op.method, pathOf(op), JSON.stringify(withString(op.example, slot, s)));
        assert.ok(r.status < 500, `${where}: ${r.status} ${JSON.stringify(r.body)}`);
        if (bad(s)) {
          assert.equal(r.status, 422, `${where} was not refused: ${r.status} ${JSON.stringify(r.body)}`);
          const paths = Object.keys(r.body.details);
          if (slot.kind === 'value') assert.ok(paths.includes(jsonPathOf(slot.at)), `${where}: details ${JSON.stringify(r.body.details)}`);
          else assert.ok(paths.some((p) => p.startsWith(jsonPathOf(slot.at))), `${where}: details ${JSON.stringify(r.body.details)}`);
        } else if (r.status < 300) stored++;
      });
      // The walk found every field the issue lists (and more), and arbitrary strings really reached the store.
      const found = new Set(cases.map((c) => `${c.op.id} ${jsonPathOf(c.slot.at)}`));
      for (const field of [
        'createChannel .name', 'createChannel .identifier', 'updateChannel .name', 'createChannelMessage .body.text.text', 'createChannelMessage .reference',
        'createChannelMessageBatch .messageRequests[0].body.text.text', 'createSuppression .identifierValue', 'createSuppression .reason',
        'simulateInboundMessage .contact.identifierValue', 'simulateInboundMessage .body.text.text', 'createTemplateProject .name',
        'createTemplateProject .description', 'updateTemplateProject .description', 'createChannelTemplate .genericContent[0].body.text.text',
        'createWebhookSubscription .signingKey', 'createChannel .connector.config',
      ]) assert.ok(found.has(field), `${field} is not among the ${cases.length} fields found: ${[...found].join(', ')}`);
      assert.ok(stored > 20, `only ${stored} bodies with arbitrary strings were accepted`);
    });

    test('every documented query parameter: 400 naming it when unstorable, never 5xx', async () => {
      const cases = ops.filter((o) => o.method === 'GET').flatMap((op) => op.query.map((p) => ({ op, name: p.name as string })));
      assert.ok(cases.length >= 40, `${cases.length} query parameters`);
      await everywhere(cases, () => anyString, RUNS.query, async ({ op, name }, s) => {
        const r = await t.request('GET', `${pathOf(op)}?${encodeURIComponent(name)}=${encodeComponent(s)}`);
        const where = `${op.id} ?${name}=${JSON.stringify(s)}`;
        assert.ok(r.status < 500, `${where}: ${r.status} ${JSON.stringify(r.body)}`);
        // Bytes that are not UTF-8 (a lone surrogate sent as WTF-8) arrive as the literal %XX text.
        if (bad(s) && wellFormed(s)) {
          assert.equal(r.status, 400, `${where}: ${r.status} ${JSON.stringify(r.body)}`);
          assert.ok(r.body.details[name], `${where}: ${JSON.stringify(r.body)}`);
        }
      });
    });

    test('every path parameter: 400 naming it when unstorable, never 5xx', async () => {
      const cases = ops.flatMap((op) => op.pathParams.map((name) => ({ op, name })));
      // "." and ".." are dot segments, which the client resolves to another path; "" is another route.
      const segment = anyString.filter((s) => s !== '.' && s !== '..' && s !== '');
      await everywhere(cases, () => segment, RUNS.path, async ({ op, name }, s) => {
        const r = await t.request(op.method, pathOf(op, { [name]: encodeComponent(s) }), op.example);
        const where = `${op.id} {${name}}=${JSON.stringify(s)}`;
        assert.ok(r.status < 500, `${where}: ${r.status} ${JSON.stringify(r.body)}`);
        // The access key is checked against the workspace (and organization) first; longer segments match no route.
        if (bad(s) && wellFormed(s) && encodeURIComponent(s).length <= 200 && name !== 'workspaceId' && name !== 'organizationId') {
          assert.equal(r.status, 400, `${where}: ${r.status} ${JSON.stringify(r.body)}`);
          assert.ok(r.body.details[name], `${where}: ${JSON.stringify(r.body)}`);
        }
      });
    });
  });
}
