import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Platform } from '../src/channels/platforms.ts';
import { checkPlatformRules } from '../src/messages/platform-rules.ts';
import { validateCreateMessage, type CreateMessageRequest } from '../src/messages/validate-message.ts';
import { sharedDir, validateAgainstBirdCreateMessage } from './support/bird-schema.ts';

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

function seedRequests(prefix: string): { requests: Obj[]; skipped: string[] } {
  const file = readdirSync(path.join(sharedDir, 'seeds')).find((f) => f.startsWith(prefix));
  assert.ok(file, `seed ${prefix} not found in ${sharedDir}/seeds`);
  const requests: Obj[] = [];
  const skipped: string[] = [];
  for (const b of jsonBlocks(readFileSync(path.join(sharedDir, 'seeds', file), 'utf8'))) {
    const r = asSendRequest(b.value, b.raw);
    if ('skip' in r) skipped.push(r.skip as string);
    else requests.push(r);
  }
  return { requests, skipped };
}

describe('seed examples', () => {
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
const WRONG_VALUES: Json[] = [null, 7, -1, 0.5, 'x', '', true, [], {}, 'not a uri', '2025-05-09', 'ABC!', 'x'.repeat(51), '{{v}}'];

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
      out.push({ path: p, at: p, apply: (r) => { (p.length ? parentOf(r, [...p, '_']) : r).zzUnknown = 1; } });
      for (const k of Object.keys(v)) out.push({ path: [...p, k], at: p, apply: (r) => { delete parentOf(r, [...p, k])[k]; } });
    }
    if (last === undefined) continue;
    for (const w of WRONG_VALUES) {
      if (JSON.stringify(w) !== JSON.stringify(v)) out.push({ path: p, at: p, apply: (r) => { parentOf(r, p)[last] = clone(w); } });
    }
    if (last === 'type' && typeof v === 'string') {
      for (const t of ['text', 'html', 'image', 'template', 'action', 'reply', 'postback', 'object', 'string']) {
        out.push({ path: p, at: p, apply: (r) => { parentOf(r, p)[last] = t; } });
      }
    }
  }
  return out;
}

const MUTATIONS = VALID.map(mutations);

const birdPath = (p: Path) => (p.length ? p.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('') : '.');
const isAncestorOrSelf = (a: string, b: string) => a === '.' || a === b || b.startsWith(`${a}.`) || b.startsWith(`${a}[`);

describe('differential: same accept/reject as Bird CreateMessage', () => {
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
        assert.equal(ours.ok, bird === null, `disagree at ${birdPath(m.path)}: ${JSON.stringify(doc)}\nbird: ${bird}\nours: ${JSON.stringify(ours)}`);
        if (ours.ok) { accepts++; continue; }
        rejects++;
        const at = birdPath(m.at);
        const parent = birdPath(m.at.slice(0, -1));
        for (const [key, messages] of Object.entries(ours.details)) {
          assert.ok(isAncestorOrSelf(key, at) || isAncestorOrSelf(parent, key), `${key} is far from ${at}: ${JSON.stringify(ours.details)}`);
          assert.ok(messages.length > 0 && messages.length <= 3 && new Set(messages).size === messages.length, JSON.stringify(ours.details));
          for (const msg of messages) assert.doesNotMatch(msg, /schema|must NOT have|must have required/, msg);
        }
        assert.ok(Object.keys(ours.details).length <= 2, `noisy: ${JSON.stringify(ours.details)}`);
      }
    }
    assert.ok(accepts > 300 && rejects > 3000, `accepts ${accepts}, rejects ${rejects}`);
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
