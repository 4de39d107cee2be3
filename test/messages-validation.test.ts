import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Platform } from '../src/channels/platforms.ts';
import { checkPlatformRules } from '../src/messages/platform-rules.ts';
import { validateCreateMessage, type CreateMessageRequest } from '../src/message-body/validate-message.ts';
import { birdSkip, seedsDir, seedsSkip, validateAgainstBirdCreateMessage, validateAgainstBirdMessage } from './support/bird-schema.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };
const NOW = new Date('2025-01-01T00:00:00Z');
const PHONE = { identifierKey: 'phonenumber', identifierValue: '+31612345678' };
const to = (...contacts: Obj[]): Obj => ({ receiver: { contacts: contacts.length ? contacts : [PHONE] } });
const withBody = (body: Obj, extra: Obj = {}): Obj => ({ ...to(), body, ...extra });

function accepted(body: unknown, now = NOW): CreateMessageRequest {
  const r = validateCreateMessage(body, now);
  assert.ok(r.ok, `expected accept: ${JSON.stringify(body)}\n${r.ok ? '' : JSON.stringify(r.details)}`);
  return r.value;
}
function rejected(body: unknown): Record<string, string[]> {
  const r = validateCreateMessage(body, NOW);
  assert.ok(!r.ok, `expected reject: ${JSON.stringify(body)}`);
  return r.details;
}

// ---------- seed examples ----------

/** Every JSON object in the text that starts at the beginning of a line; `value` is undefined when it is not JSON. */
function jsonBlocks(text: string): Array<{ line: number; raw: string; value?: Json }> {
  const out: Array<{ line: number; raw: string; value?: Json }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; ) {
    if (!/^\s*\{/.test(lines[i])) { i++; continue; }
    const start = i;
    let depth = 0, inString = false, escaped = false, raw = '';
    scan: for (; i < lines.length; i++) {
      for (const ch of lines[i] + '\n') {
        raw += ch;
        if (inString) { if (escaped) escaped = false; else if (ch === '\\') escaped = true; else if (ch === '"') inString = false; }
        else if (ch === '"') inString = true;
        else if (ch === '{') depth++;
        else if (ch === '}' && --depth === 0) { i++; break scan; }
      }
    }
    let value: Json | undefined;
    try { value = JSON.parse(raw) as Json; } catch { /* a skeleton like `"body": {...}` */ }
    out.push({ line: start + 1, raw, value });
  }
  return out;
}

/** Turns a seed block into a send request, or says why it is not one. */
function asSendRequest(v: Json | undefined, raw: string): Obj | { skip: string } {
  if (v === undefined) {
    assert.ok(raw.includes('{...}'), `unparseable seed block is not a {...} skeleton:\n${raw}`);
    return { skip: 'skeleton with {...}' };
  }
  assert.ok(v && typeof v === 'object' && !Array.isArray(v));
  if ('channelId' in v && 'status' in v) return { skip: 'Message response' };
  if ('receiver' in v && ('body' in v || 'template' in v)) return v;
  if ('results' in v) return { skip: 'list response' };
  if ('serviceWindowExpireAt' in v) return { skip: 'contact channel details response' };
  if ('uploadUrl' in v || Object.keys(v).join() === 'contentType') return { skip: 'presigned upload' };
  if ('projectId' in v) return { ...to(), template: v };
  if (typeof v.type === 'string' && typeof v[v.type] === 'object') {
    // The ReplyTo examples put replyTo inside the body; it belongs on the request.
    const { replyTo, ...body } = v;
    return withBody(body, replyTo ? { replyTo } : {});
  }
  // "Text message with location request" shows only the inner `text` object.
  if (typeof v.text === 'string' && !('type' in v)) return withBody({ type: 'text', text: v });
  assert.fail(`unclassified seed block: ${raw.slice(0, 200)}`);
}

function seedRequests(prefix: string): { requests: Obj[]; skipped: string[]; messages: Json[] } {
  const file = readdirSync(seedsDir).find((f) => f.startsWith(prefix));
  assert.ok(file, `seed ${prefix} not found in ${seedsDir}`);
  const requests: Obj[] = [];
  const skipped: string[] = [];
  const messages: Json[] = [];
  for (const b of jsonBlocks(readFileSync(path.join(seedsDir, file), 'utf8'))) {
    const r = asSendRequest(b.value, b.raw);
    if (!('skip' in r)) requests.push(r);
    else {
      skipped.push(r.skip as string);
      if (r.skip === 'Message response') messages.push(b.value!);
    }
  }
  return { requests, skipped, messages };
}

describe('seed examples', { skip: seedsSkip || birdSkip }, () => {
  test('seed 002: the full send request is accepted (responses and upload bodies skipped)', () => {
    const { requests, skipped } = seedRequests('002_');
    assert.equal(requests.length, 1);
    assert.equal(skipped.length, 10);
    for (const r of requests) {
      assert.equal(validateAgainstBirdCreateMessage(r), null);
      // Its scheduledFor is in the past now, which sends at once.
      assert.equal(checkPlatformRules('email', accepted(r, new Date())), null);
    }
  });

  test("the oracle's Message schema accepts the seeds' message responses", () => {
    const messages = [...seedRequests('002_').messages, ...seedRequests('003_').messages];
    assert.equal(messages.length, 3);
    for (const m of messages) assert.equal(validateAgainstBirdMessage(m), null);
    assert.ok(validateAgainstBirdMessage({ ...(messages[0] as Obj), status: 'bogus' }));
  });

  test('seed 003: every WhatsApp request example is accepted, by Bird schema and platform rules', () => {
    const { requests, skipped } = seedRequests('003_');
    assert.equal(requests.length, 30); // 25 bodies, 1 inner text object, 3 templates, 1 full request
    assert.deepEqual(skipped.sort(), ['Message response', 'contact channel details response', ...Array(5).fill('skeleton with {...}')]);
    for (const r of requests) {
      assert.equal(validateAgainstBirdCreateMessage(r), null, JSON.stringify(r));
      // The full request (the one with a sender) is Bird's generic email-flavoured example.
      assert.equal(checkPlatformRules('sender' in r ? 'email' : 'whatsapp', accepted(r, new Date())), null, JSON.stringify(r));
    }
  });
});

// ---------- differential test against Bird's schema ----------

const ACTIONS: Obj[] = [
  { type: 'link', link: { text: 'Open', url: 'https://example.com/a?b=c' } },
  { type: 'link', link: { text: 'Open', url: 'https://example.com/{{id}}' } },
  { type: 'reply', reply: { text: 'Yes', imageUrl: 'https://example.com/i.png', metadata: { any: 1 } } },
  { type: 'locationRequest' },
  { type: 'locationRequest', locationRequest: { text: 'Send location' } },
  { type: 'buy', buy: { text: 'Buy', amountCents: 1999, currency: 'EUR' } },
  { type: 'postback', postback: { text: 'Go', payload: 'p', metadata: { description: { label: 'l' } } } },
];
const PRODUCT_ITEM = { type: 'whatsapp-product-item', whatsappProductItem: { externalProductId: 'p1' } };
const PARAMETERS: Obj[] = [
  { type: 'string', key: 'name', value: 'Robert' },
  { type: 'number', key: 'n', value: 1.5 },
  { type: 'boolean', key: 'b', value: false },
  { type: 'object', key: 'o', value: { deep: { x: [1] } } },
  { type: 'sectionList', key: 's', value: { sections: [{ id: null, title: 'T', items: [{ type: 'reply-action', replyAction: { text: 'r' } }] }] } },
  { type: 'timeslotList', key: 't', value: { timeslots: [{ startTime: '2025-05-09T03:50:12Z', duration: 30 }] } },
  { type: 'productSections', key: 'ps', value: { productSections: [{ title: 'Shoes', products: [{ externalProductId: 'p1' }] }] } },
  { type: 'productList', key: 'pl', value: { products: [{ type: 'product', product: { externalProductId: 'p1', amount: '1' } }] } },
  { type: 'shippingMethodList', key: 'sm', value: { shippingMethods: [{ amount: '5', label: 'l', identifier: 'i', detail: 'd' }] } },
  { type: 'lineItemList', key: 'li', value: { lineItems: [{ amount: '5', text: 't', type: 'final' }] } },
  { type: 'whatsappProductSections', key: 'wps', value: { sections: [{ type: 'whatsapp-product-section', whatsappProductSection: { title: 'S', products: [PRODUCT_ITEM] } }] } },
  { type: 'whatsappProductItems', key: 'wpi', value: { products: [PRODUCT_ITEM] } },
];
const CARD = { title: 'Card', mediaUrl: 'https://example.com/c.png', altText: 'alt', actions: [ACTIONS[6]] };
const BODIES: Obj[] = [
  { type: 'text', text: { text: 'hi', actions: ACTIONS, attachments: [{ mediaUrl: 'https://e.com/a.pdf', filename: 'a.pdf', inline: false, contentId: 'c' }],
    metadata: { subject: 's', headers: { 'X-A': 'b' }, whatsapp: { previewUrl: true }, telegram: { parseMode: 'MarkdownV2' }, apple: { summaryText: 's' },
      line: { emoji: { items: [{ index: 0, productId: 'p', emojiId: 'e', length: null }] } } } } },
  { type: 'html', html: { html: '<p>hi</p>', text: 'hi', metadata: { subject: 's', emailFrom: { username: 'news', displayName: 'N' }, openTracking: true },
    attachments: [{ mediaUrl: 'https://e.com/a.pdf', filename: 'a.pdf' }, { content: 'aGk=', contentType: 'text/plain', filename: 'a.txt', contentId: 'x' }] } },
  { type: 'image', image: { text: 't', images: [{ mediaUrl: 'https://e.com/i.png', altText: 'a' }], metadata: { subject: 's', telegram: { parseMode: 'Markdown' } }, actions: [ACTIONS[2]] } },
  { type: 'file', file: { files: [{ mediaUrl: 'https://e.com/f.pdf', contentType: 'application/pdf', filename: 'f.pdf', metadata: { isAnimated: false } }] } },
  { type: 'gif', gif: { mediaUrl: 'https://e.com/g.gif', text: 't', metadata: { telegram: { parseMode: 'Markdown' } } } },
  { type: 'location', location: { coordinates: { latitude: 52.3, longitude: 4.9 }, location: { address: 'a', label: 'l' } } },
  { type: 'carousel', carousel: { text: 't', items: [CARD, { ...CARD, mediaUrl: null }] } },
  { type: 'list', list: { text: 'pick', title: 't', items: [CARD], metadata: { button: { label: 'Show' }, replyMessage: { title: 'a', text: 'b' } } } },
  { type: 'section', section: { configurations: { default: 'x' }, items: [{ type: 'text', text: { text: 'a' } },
    { type: 'section', section: { items: [{ type: 'gif', gif: { mediaUrl: 'https://e.com/g.gif' } }] } }] } },
  { type: 'authentication', authentication: { otp: { disclaimer: true, expirationTime: 10, actions: [ACTIONS[0]] } } },
];
const TEMPLATE: Obj = {
  name: 'n', projectId: 'p', version: 'latest', locale: 'pt-BR', parameters: PARAMETERS,
  attachments: [{ mediaUrl: 'https://e.com/a.pdf', filename: 'a.pdf' }], shortLinks: { enabled: true, domain: 'd' },
  variables: { default: 'x', other: 'y' }, settings: { disallowMmLite: null },
  utmParameters: [{ key: 'utm_source', value: 'bird' }, { key: 'utm_medium', reference: 'channel_name' }],
};
const UUID = '123e4567-e89b-12d3-a456-426614174000';
const EXTRAS: Obj = {
  sender: { connector: { identifierValue: 'x', annotations: { name: 'n' } } }, reference: 'ref',
  replyTo: { id: 'm', type: 'message', order: 0 }, notification: { url: 'https://e.com/hook' }, capFrequency: false,
  tags: ['Spring Sale', 'a_b-c'], shortLinks: { domain: 'bird.to' }, scheduledFor: '2025-01-20T10:00:00+02:00', validity: 60,
  meta: { extraInformation: { a: { b: 1 } }, email: { subject: 's', headers: { h: 'v' }, from: { username: 'u' } }, navigatorId: UUID,
    flow: { id: UUID, runId: null }, campaign: { id: null }, referredProduct: null, pushNotifications: { gatewayTypeOverride: 'web' },
    order: { products: [{ quantity: 1, price: { amount: 100, exponent: 2, currencyCode: 'EUR' } }] } },
};
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T; // unlike structuredClone, unshares repeated objects
const VALID: Obj[] = clone([
  ...BODIES.map((b) => withBody(b)),
  { ...to({ id: 'c1', identifiers: [{ identifierKey: 'emailaddress', identifierValue: 'a@b.co' }], type: 'bcc', platformAddressSelector: null }), template: TEMPLATE },
  { ...withBody(BODIES[0], EXTRAS), template: null },
]);

type Path = Array<string | number>;
type Mutation = { path: Path; at: Path; apply: (root: Obj) => void };
// Per kind of value: null, another type, and the edge values the schema has rules about (empty, too long,
// format, pattern, bounds, integer-ness).
function wrongValues(v: Json): Json[] {
  if (typeof v === 'string') return [null, 7, '', 'x'.repeat(51), 'not a uri', 'ABC!', '2025-05-09'];
  if (typeof v === 'number') return [null, 'x', -1, 0.5, 100, 1e21];
  if (typeof v === 'boolean') return [null, 'true'];
  if (Array.isArray(v)) return [null, 'x', {}, [], [7]];
  if (v !== null) return [null, 'x', [], {}];
  return ['x', {}];
}

function nodes(v: Json, p: Path = []): Array<[Path, Json]> {
  const out: Array<[Path, Json]> = [[p, v]];
  if (Array.isArray(v)) v.forEach((c, i) => out.push(...nodes(c, [...p, i])));
  else if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) out.push(...nodes(c, [...p, k]));
  return out;
}
function parentOf(root: Json, p: Path): any {
  return p.slice(0, -1).reduce<any>((o, k) => o[k], root);
}

function mutations(valid: Obj): Mutation[] {
  const out: Mutation[] = [];
  for (const [p, v] of nodes(valid)) {
    const last = p.at(-1);
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      out.push({ path: p, at: p, apply: (r) => { parentOf(r, [...p, '_']).zzUnknown = 1; } });
      for (const k of Object.keys(v)) out.push({ path: [...p, k], at: p, apply: (r) => { delete parentOf(r, [...p, k])[k]; } });
    }
    if (last === undefined) continue;
    for (const w of wrongValues(v)) {
      if (JSON.stringify(w) !== JSON.stringify(v)) out.push({ path: p, at: p, apply: (r) => { parentOf(r, p)[last] = clone(w); } });
    }
    if (last === 'type' && typeof v === 'string') {
      for (const t of ['text', 'html', 'template', 'action', 'reply', 'postback', 'number', 'bogus']) {
        out.push({ path: p, at: p, apply: (r) => { parentOf(r, p)[last] = t; } });
      }
    }
  }
  return out;
}

const MUTATIONS = VALID.map(mutations);

const birdPath = (p: Path) => (p.length ? p.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('') : '.');
const isAncestorOrSelf = (a: string, b: string) => a === '.' || a === b || b.startsWith(`${a}.`) || b.startsWith(`${a}[`);

describe('differential: same accept/reject as Bird CreateMessage', { skip: birdSkip }, () => {
  test('the valid fixtures are valid for both', () => {
    for (const v of VALID) {
      assert.equal(validateAgainstBirdCreateMessage(v), null, JSON.stringify(v));
      accepted(v);
    }
  });

  test('every single mutation of every fixture: agreement, and errors at the mutated spot', () => {
    let accepts = 0, rejects = 0;
    for (const [i, valid] of VALID.entries()) {
      for (const m of MUTATIONS[i]) {
        const doc = clone(valid);
        m.apply(doc);
        const bird = validateAgainstBirdCreateMessage(doc);
        const ours = validateCreateMessage(doc, NOW);
        // Messages are built only on failure: this loop runs thousands of times.
        const show = () => `at ${birdPath(m.path)}: ${JSON.stringify(doc)}\nbird: ${bird}\nours: ${JSON.stringify(ours)}`;
        if (ours.ok !== (bird === null)) assert.fail(`disagree ${show()}`);
        if (ours.ok) { accepts++; continue; }
        rejects++;
        const at = birdPath(m.at);
        const parent = birdPath(m.at.slice(0, -1));
        const keys = Object.keys(ours.details);
        if (keys.length > 2) assert.fail(`noisy ${show()}`);
        for (const key of keys) {
          const messages = ours.details[key];
          if (!isAncestorOrSelf(key, at) && !isAncestorOrSelf(parent, key)) assert.fail(`${key} is far from ${show()}`);
          if (messages.length === 0 || new Set(messages).size !== messages.length) assert.fail(`duplicates ${show()}`);
          if (messages.some((msg) => /schema|must NOT have|must have required/.test(msg))) assert.fail(`Ajv wording ${show()}`);
        }
      }
    }
    assert.ok(accepts > 800 && rejects > 2000, `accepts ${accepts}, rejects ${rejects}`);
  });

  test('random double mutations agree', () => {
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    let checked = 0;
    while (checked < 1000) {
      const i = rand(VALID.length);
      const doc = clone(VALID[i]);
      try {
        for (let j = 0; j < 2; j++) MUTATIONS[i][rand(MUTATIONS[i].length)].apply(doc);
      } catch {
        continue; // the second mutation's path was removed by the first
      }
      checked++;
      const bird = validateAgainstBirdCreateMessage(doc);
      assert.equal(validateCreateMessage(doc, NOW).ok, bird === null, JSON.stringify(doc));
    }
  });
});

// ---------- details format ----------

describe('422 details are Bird-shaped', () => {
  const text = { type: 'text', text: { text: 'hi' } };

  test("Bird's own example: unknown property keyed on its parent", () => {
    const body = { receiver: { contacts: [{ identifierValue: '+31612345678', listId: 'l' }] }, body: text };
    assert.deepEqual(rejected(body), { '.receiver.contacts[0]': ['property "listId" is unsupported'] });
  });

  test('missing properties are keyed on their parent; the root is "."', () => {
    assert.deepEqual(rejected({ body: text }), { '.': ['property "receiver" is required'] });
    assert.deepEqual(rejected(to()), { '.': ['either property "body" or "template" is required'] });
    assert.deepEqual(rejected(withBody({ type: 'text', text: {} })), { '.body.text': ['property "text" is required'] });
    assert.deepEqual(rejected({ ...to(), template: {}, sender: {} }), { '.sender': ['property "connector" is required'] });
  });

  test('an error inside one body type says nothing about the other body types', () => {
    assert.deepEqual(rejected(withBody({ type: 'text', text: { text: 5 } })), { '.body.text.text': ['must be a string'] });
    assert.deepEqual(rejected(withBody({ type: 'image', text: { text: 'x' } })), {
      '.body': ['property "image" is required', 'property "text" is unsupported'],
    });
    const details = rejected(withBody({ type: 'smoke' }));
    assert.deepEqual(Object.keys(details), ['.body.type']);
    assert.match(details['.body.type'][0], /^must be one of "text", "html", /);
  });

  test('nested unions: actions, carousel cards, sections, template parameters', () => {
    const list = { type: 'list', list: { text: 't', items: [{ actions: [{ type: 'postback', postback: { payload: 'p' } }] }] } };
    assert.deepEqual(rejected(withBody(list)), { '.body.list.items[0].actions[0].postback': ['property "text" is required'] });
    const section = { type: 'section', section: { items: [{ type: 'section', section: { items: [{ type: 'section', section: {} }] } }] } };
    assert.deepEqual(Object.keys(rejected(withBody(section))), ['.body.section.items[0].section.items[0].type']);
    const template = { parameters: [{ type: 'number', key: 'k', value: '1' }, { type: 'string', key: '' }] };
    assert.deepEqual(rejected({ ...to(), template }), {
      '.template.parameters[0].value': ['must be a number'],
      '.template.parameters[1].key': ['must not be empty'],
    });
    const link = { type: 'text', text: { text: 'x', actions: [{ type: 'link', link: { text: 'a', url: 'has space' } }] } };
    assert.deepEqual(rejected(withBody(link)), { '.body.text.actions[0].link.url': ['must be a URI or contain a {{variable}} placeholder'] });
    assert.deepEqual(rejected(withBody({ type: 'html', html: { metadata: {} } })), { '.body.html': ['either property "text" or "html" is required'] });
  });

  test('paths tell array indexes from object keys, quote odd keys, and messages are de-duplicated', () => {
    const meta = { email: { headers: { '0': 1, 'a b': 2, 'X-Id': 3 } } };
    assert.deepEqual(rejected({ ...to(), template: {}, meta }), {
      '.meta.email.headers.0': ['must be a string'],
      '.meta.email.headers["a b"]': ['must be a string'],
      '.meta.email.headers.X-Id': ['must be a string'],
    });
    const details = rejected({ ...to(), template: {}, a: 1, b: 2, receiver: { contacts: [{}, { x: 1, y: 2 }] } });
    assert.deepEqual(details, {
      '.': ['property "a" is unsupported', 'property "b" is unsupported'],
      '.receiver.contacts[1]': ['property "x" is unsupported', 'property "y" is unsupported'],
    });
  });

  test('type, enum, format and range messages', () => {
    const d = rejected({
      ...to(), template: { locale: 'en_US', utmParameters: [] }, validity: 1.5, scheduledFor: 'tomorrow',
      replyTo: { id: 'x', type: 'reply' }, meta: { navigatorId: 'nope' }, shortLinks: { domain: 'x'.repeat(129) },
    });
    assert.deepEqual(d, {
      '.template.locale': ['must be a BCP 47 language tag, e.g. en or pt-BR'],
      '.template.utmParameters': ['must contain at least 1 item'],
      '.validity': ['must be an integer'],
      '.scheduledFor': ['must be an RFC 3339 date-time with time zone, e.g. 2025-05-09T03:50:12Z'],
      '.replyTo.type': ['must be one of "message", "click", "referrals"'],
      '.meta.navigatorId': ['must be a UUID'],
      '.shortLinks.domain': ['must be at most 128 characters long'],
    });
    assert.deepEqual(rejected({ ...to(), template: null, validity: -1 }), { '.validity': ['must be at least 0'] });
    assert.deepEqual(rejected(withBody({ type: 'location', location: { coordinates: { latitude: 91 } } })), {
      '.body.location.coordinates.latitude': ['must be at most 90'],
    });
  });
});

// ---------- rules on top of the schema ----------

describe('send rules beyond the schema', () => {
  const at = (scheduledFor: string) => validateCreateMessage({ ...to(), template: {}, scheduledFor }, NOW);

  test('scheduledFor: at most 35 days ahead (Bird schema alone accepts any date)', async (tc) => {
    assert.ok(at('2025-02-05T00:00:00Z').ok);
    assert.ok(at('2025-02-05T01:59:59+02:00').ok);
    assert.ok(at('2020-01-01T00:00:00Z').ok, 'past times send now');
    for (const late of ['2025-02-05T00:00:00.001Z', '2025-02-04T23:00:00-01:01', '2099-12-31t23:59:60z']) {
      const r = at(late);
      assert.ok(!r.ok && r.details['.scheduledFor'][0] === 'must not be more than 35 days in the future', late);
    }
    await tc.test('Bird schema accepts those dates', { skip: birdSkip }, () => {
      for (const late of ['2025-02-05T00:00:00.001Z', '2025-02-04T23:00:00-01:01', '2099-12-31t23:59:60z'])
        assert.equal(validateAgainstBirdCreateMessage({ ...to(), template: {}, scheduledFor: late }), null, late);
    });
    assert.ok(validateCreateMessage({ ...to(), template: {}, scheduledFor: '2099-01-01T00:00:00Z' }, new Date('2098-12-01T00:00:00Z')).ok);
  });

  test('tags: at most 10, 1-50 characters of [a-zA-Z0-9-_ ], returned lower-cased', () => {
    const ok = accepted({ ...to(), template: {}, tags: ['Spring Sale', 'a_B-9', 'x'.repeat(50), ...Array(7).fill('t')] });
    assert.deepEqual(ok.tags?.slice(0, 2), ['spring sale', 'a_b-9']);
    assert.deepEqual(rejected({ ...to(), template: {}, tags: Array(11).fill('t') }), { '.tags': ['must contain at most 10 items'] });
    assert.deepEqual(rejected({ ...to(), template: {}, tags: ['', 'x'.repeat(51), 'é', 'a.b'] }), {
      '.tags[0]': ['must not be empty', 'may only contain letters, digits, spaces, "-" and "_"'],
      '.tags[1]': ['must be at most 50 characters long'],
      '.tags[2]': ['may only contain letters, digits, spaces, "-" and "_"'],
      '.tags[3]': ['may only contain letters, digits, spaces, "-" and "_"'],
    });
    const input = { ...to(), template: {}, tags: ['ABC'] };
    accepted(input);
    assert.deepEqual(input.tags, ['ABC'], 'the input is not modified');
    const lower = { ...to(), template: {}, tags: ['abc'] };
    assert.equal(accepted(lower), lower, 'nothing to change, nothing copied');
  });

  test('validity: integer >= 0', () => {
    for (const validity of [0, 129600]) accepted({ ...to(), template: {}, validity });
    for (const validity of [-1, 0.5, '60', null]) rejected({ ...to(), template: {}, validity });
  });

  test('formats as interpreted: locale, uri, date-time', () => {
    for (const locale of ['en', 'pt-BR', 'zh-Hant-TW', 'es-419', 'text', 'x-private']) accepted({ ...to(), template: { locale } });
    for (const locale of ['en_US', 'e', 'abcdefghi', '', 'en-', 'en-US-']) rejected({ ...to(), template: { locale } });
    const img = (mediaUrl: string) => withBody({ type: 'image', image: { images: [{ mediaUrl }] } });
    for (const url of ['https://e.com/a%20b.png?x=1#f', '/relative/path.png', 'text']) accepted(img(url));
    for (const url of ['', 'has space', 'https://e.com/<x>']) rejected(img(url));
    for (const s of ['2025-01-09 03:50:12Z', '2024-12-31T23:59:59.999999+14:00']) accepted({ ...to(), template: {}, scheduledFor: s });
    for (const s of ['2025-05-09T03:50:12', '2025-02-30T00:00:00Z', '2025-05-09']) rejected({ ...to(), template: {}, scheduledFor: s });
  });
});

// ---------- platform rules ----------

describe('platform rules', () => {
  const check = (platform: Platform, req: Obj) => checkPlatformRules(platform, accepted(req));
  const text = { type: 'text', text: { text: 'hello' } };
  const email = (identifierValue = 'ada@example.com') => ({ identifierKey: 'emailaddress', identifierValue });
  const subject = { type: 'text', text: { text: 'hi', metadata: { subject: 'Hello' } } };

  test('valid messages pass on each platform', () => {
    for (const p of ['sms', 'whatsapp', 'rcs', 'viber'] as const) assert.equal(check(p, withBody(text)), null, p);
    assert.equal(check('sms', withBody(text, { receiver: { contacts: [{ identifierValue: '+14155550100' }] } })), null);
    assert.equal(check('telegram', withBody(text, { receiver: { contacts: [{ identifierValue: '12345' }] } })), null);
    assert.equal(check('email', withBody(subject, { receiver: { contacts: [email(), { ...email('b@x.io'), type: 'cc' }, { id: 'c', type: 'bcc' }] } })), null);
    assert.equal(check('email', { ...to(email()), template: { projectId: 'p' } }), null);
    assert.equal(check('whatsapp', { receiver: { contacts: [{ id: 'contact-id' }] }, template: { projectId: 'p' } }), null);
  });

  test('a body or a non-null template', () => {
    assert.deepEqual(check('sms', { ...to(), template: null }), { '.template': ['must not be null when there is no body'] });
  });

  test('receivers: present, addressable, one unless email', () => {
    assert.deepEqual(check('sms', { receiver: {}, body: text }), { '.receiver': ['property "contacts" is required'] });
    assert.deepEqual(check('sms', { receiver: { contacts: [] }, body: text }), { '.receiver.contacts': ['must contain at least one contact'] });
    assert.deepEqual(check('telegram', { receiver: { contacts: [{ type: 'to' }] }, body: text }), {
      '.receiver.contacts[0]': ['must have an "identifierValue", "identifiers", "id" or "platformAddress"'],
    });
    assert.deepEqual(check('whatsapp', { ...to(PHONE, PHONE), body: text }), {
      '.receiver.contacts': ['must contain exactly one contact on WhatsApp channels'],
    });
  });

  test('phone numbers are E.164 on SMS, WhatsApp, RCS and Viber, and wherever the key is phonenumber', () => {
    const E164 = ['must be a phone number in E.164 format, e.g. +31612345678'];
    for (const bad of ['0612345678', '+0612345678', '+31 6 1234 5678', '+1234567', '+1234567890123456', '31612345678']) {
      for (const p of ['sms', 'whatsapp', 'rcs', 'viber'] as const) {
        assert.deepEqual(check(p, withBody(text, { receiver: { contacts: [{ identifierValue: bad }] } })), { '.receiver.contacts[0].identifierValue': E164 }, `${p} ${bad}`);
      }
    }
    assert.equal(check('telegram', withBody(text, { receiver: { contacts: [{ identifierValue: '0612' }] } })), null);
    const ids = { identifiers: [{ identifierKey: 'PhoneNumber', identifierValue: '0612' }] };
    assert.deepEqual(check('email', { ...to({ ...ids, id: 'x' }), template: {} }), { '.receiver.contacts[0].identifiers[0].identifierValue': E164 });
    assert.deepEqual(check('sms', withBody(text, { receiver: { contacts: [{ identifierValue: ' ' }] } })), {
      '.receiver.contacts[0].identifierValue': ['must not be empty'],
    });
  });

  test('email addresses are valid on email, and wherever the key is emailaddress', () => {
    for (const bad of ['ada', 'ada@', 'ada@localhost', 'a b@x.io', `${'a'.repeat(250)}@x.io`]) {
      assert.deepEqual(check('email', { ...to({ identifierValue: bad }), template: {} }), {
        '.receiver.contacts[0].identifierValue': ['must be a valid email address'],
      }, bad);
    }
    assert.deepEqual(check('sms', withBody(text, { receiver: { contacts: [email('nope')] } })), {
      '.receiver.contacts[0].identifierValue': ['must be a valid email address'],
    });
  });

  test('email needs a subject unless html or template; html only on email', () => {
    const noSubject = { ...to(email()), body: text };
    assert.deepEqual(check('email', noSubject), {
      '.body.text.metadata': ['property "subject" is required on email channels (or set meta.email.subject)'],
    });
    assert.equal(check('email', { ...noSubject, meta: { email: { subject: 'Hi' } } }), null);
    assert.deepEqual(check('email', { ...to(email()), body: { type: 'gif', gif: { mediaUrl: 'https://e.com/g.gif' } } }), {
      '.meta.email': ['property "subject" is required on email channels'],
    });
    const html = { type: 'html', html: { html: '<p>hi</p>' } };
    assert.equal(check('email', { ...to(email()), body: html }), null);
    for (const p of ['sms', 'whatsapp', 'telegram'] as const) {
      assert.deepEqual(check(p, withBody(html, p === 'telegram' ? { receiver: { contacts: [{ id: 'c' }] } } : {})), {
        '.body.type': ['"html" bodies are only supported on email channels'],
      });
    }
  });

  test('media, location, WhatsApp and SMS limits', () => {
    assert.deepEqual(check('sms', withBody({ type: 'image', image: { images: [] } })), { '.body.image.images': ['must contain at least one image'] });
    assert.deepEqual(check('telegram', withBody({ type: 'file', file: { files: [] } }, { receiver: { contacts: [{ id: 'c' }] } })), {
      '.body.file.files': ['must contain at least one file'],
    });
    const images = (n: number) => withBody({ type: 'image', image: { images: Array(n).fill({ mediaUrl: 'https://e.com/i.png' }) } });
    assert.equal(check('sms', images(10)), null);
    assert.deepEqual(check('sms', images(11)), { '.body.image.images': ['must contain at most 10 images on SMS (MMS) channels'] });
    assert.equal(check('whatsapp', images(11)), null);
    assert.deepEqual(check('sms', withBody({ type: 'location', location: { coordinates: { latitude: 1 } } })), {
      '.body.location.coordinates': ['property "longitude" is required'],
    });
    const long = (n: number) => withBody({ type: 'text', text: { text: '😀'.repeat(n) } });
    assert.equal(check('whatsapp', long(4096)), null, 'characters, not UTF-16 units');
    assert.deepEqual(check('whatsapp', long(4097)), { '.body.text.text': ['must be at most 4096 characters on WhatsApp'] });
    assert.equal(check('sms', long(4097)), null);
    const carousel = (n: number | null) =>
      withBody({ type: 'carousel', carousel: { items: n === null ? null : Array(n).fill({ title: 'c', mediaUrl: 'https://e.com/c.png' }) } });
    for (const n of [2, 10]) assert.equal(check('whatsapp', carousel(n)), null);
    for (const n of [null, 0, 1, 11]) {
      assert.deepEqual(check('whatsapp', carousel(n)), { '.body.carousel.items': ['must contain between 2 and 10 cards on WhatsApp'] });
    }
    assert.equal(check('rcs', carousel(1)), null);
    const label = (s: string) => withBody({ type: 'list', list: { text: 't', metadata: { button: { label: s } } } });
    assert.equal(check('whatsapp', label('x'.repeat(20))), null);
    assert.deepEqual(rejected(label('x'.repeat(21))), { '.body.list.metadata.button.label': ['must be at most 20 characters long'] });
  });
});

// ---------- robustness ----------

describe('hostile input', () => {
  test('never throws, always answers', () => {
    let deep: Json = 'x';
    for (let i = 0; i < 5000; i++) deep = { a: deep, b: [deep] };
    let deepArray: Json = [];
    for (let i = 0; i < 5000; i++) deepArray = [deepArray];
    const throwing = Object.defineProperty({ receiver: { contacts: [] }, template: {} }, 'body', { enumerable: true, get() { throw new Error('boom'); } });
    const inputs: unknown[] = [
      undefined, null, 0, -0, NaN, Infinity, 1e308, 10n, '', 'x'.repeat(1e6), true, [], [{}], Symbol('s'), () => 1,
      Object.create(null), JSON.parse('{"__proto__": {"receiver": 1}, "constructor": 1}'), new Proxy({}, { ownKeys() { throw new Error('trap'); } }),
      throwing, { receiver: deep, body: deepArray }, { ...to(), template: {}, meta: { extraInformation: deep } },
      { ...to(), template: {}, validity: 1e400, tags: Array(1e5).fill('t') }, { ...to(), body: { type: 'text', text: { text: '\u0000\ud800' } } },
      { ...to(), template: { variables: Object.fromEntries(Array.from({ length: 1e4 }, (_, i) => [`k${i}`, i])) } },
    ];
    for (const input of inputs) {
      const r = validateCreateMessage(input, NOW);
      assert.equal(typeof r.ok, 'boolean');
      if (!r.ok) for (const [k, v] of Object.entries(r.details)) assert.ok(k.startsWith('.') && v.length > 0 && v.every((m) => typeof m === 'string'));
    }
    assert.ok(validateCreateMessage({ ...to(), template: {}, meta: { extraInformation: deep } }).ok);
  });

  test('fast: 10,000 validations of a large request in well under a second, even cold', () => {
    const req = { ...withBody(BODIES[0]), tags: ['A'] };
    const start = performance.now();
    for (let i = 0; i < 10_000; i++) validateCreateMessage(req);
    assert.ok(performance.now() - start < 1000);
  });
});
