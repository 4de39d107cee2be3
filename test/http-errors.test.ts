import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createAccessKey, revokeAccessKey } from '../src/auth/access-keys.ts';
import { createStarterWorkspace } from '../src/bootstrap.ts';
import { createWorkspace } from '../src/workspaces/workspaces.ts';
import { startTestAviary, type TestAviary } from './support/harness.ts';

// Each error status Aviary documents, produced by a real request. Store-independent: PGlite only.
describe('HTTP errors', () => {
  let t: TestAviary;
  let path: string;
  before(async () => {
    t = await startTestAviary('pglite', { bodyLimit: 4096 });
    path = `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`;
  });
  after(() => t.close());
  const valid = { receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'text', text: { text: 'x' } } };

  test('401 without a key, with a malformed header, with an unknown or revoked key', async () => {
    for (const authorization of ['', 'Basic abc', 'AccessKey', 'AccessKey avk_unknown']) {
      const r = await t.request('GET', path, undefined, { authorization });
      assert.equal(r.status, 401, authorization);
      assert.equal(r.body.code, 'Unauthorized');
    }
    const { key } = await createAccessKey(t.aviary.ctx.db, { organizationId: t.organizationId, name: 'temp' });
    assert.equal(await revokeAccessKey(t.aviary.ctx.db, key), true);
    assert.equal((await t.request('GET', path, undefined, { authorization: `AccessKey ${key}` })).status, 401);
  });

  test('403 for a workspace the key may not use, 404 for one that does not exist', async () => {
    const db = t.aviary.ctx.db;
    const other = await createWorkspace(db, t.organizationId, 'other');
    const { key: bound } = await createAccessKey(db, { organizationId: t.organizationId, workspaceId: other.id, name: 'bound' });
    const r = await t.request('GET', path, undefined, { authorization: `AccessKey ${bound}` });
    assert.equal(r.status, 403);
    assert.deepEqual(r.body, { code: 'Forbidden', message: 'User has no access to the requested resource' });
    const foreign = await createStarterWorkspace(db, undefined, 'another org');
    const r2 = await t.request('GET', `/workspaces/${foreign.workspace.id}/channels`);
    assert.equal(r2.status, 403);
    const r3 = await t.request('GET', '/workspaces/00000000-0000-4000-8000-000000000000/channels');
    assert.equal(r3.status, 404);
    assert.equal(r3.body.message, 'The requested resource does not exist: workspace not found');
  });

  test('400 malformed JSON, empty body, prototype poisoning; 415 wrong content type; 413 too large', async () => {
    const bad = await t.request('POST', path, '{"receiver": ');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'BadRequest');
    assert.equal((await t.request('POST', path, '')).status, 400);
    const poisoned = await t.request('POST', path, '{"__proto__": {"x": 1}}');
    assert.equal(poisoned.status, 400);
    // Well-formed JSON refused for its key says so; broken JSON does not blame a key.
    assert.match(poisoned.body.message, /__proto__/);
    assert.match((await t.request('POST', path, '{"attributes": {"__proto__": ""}}')).body.message, /__proto__/);
    assert.doesNotMatch(bad.body.message, /__proto__/);
    const form = await t.request('POST', path, 'a=b', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 415);
    assert.equal(form.body.code, 'UnsupportedMediaType');
    assert.equal((await t.request('POST', path, JSON.stringify(valid), { 'content-type': 'text/plain' })).status, 415);
    const big = await t.request('POST', path, { ...valid, reference: 'x'.repeat(5000) });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, 'PayloadTooLarge');
    const none = await t.request('POST', path);
    assert.equal(none.status, 400);
  });

  test('404 for unknown routes and channels', async () => {
    const r = await t.request('GET', '/nope');
    assert.equal(r.status, 404);
    assert.equal(r.body.code, 'NotFound');
    const c = await t.request('POST', `/workspaces/${t.workspaceId}/channels/00000000-0000-4000-8000-000000000000/messages`, valid);
    assert.deepEqual(c.body, { code: 'NotFound', message: 'The requested resource does not exist: channel not found' });
  });

  // Bytes fetch() would refuse or normalise, written on a raw socket; the answer read until the server closes.
  async function raw(request: string): Promise<{ status: number; headers: string; body: any }> {
    const { hostname, port } = new URL(t.url);
    const text = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () => socket.write(request));
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      socket.on('error', reject);
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(request.slice(0, 60))}`)));
    });
    const [head, ...rest] = text.split('\r\n\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    return { status, headers: head.toLowerCase(), body: JSON.parse(rest.join('\r\n\r\n')) };
  }
  const get = (target: string, extra = '') => raw(`GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: AccessKey ${t.key}\r\n${extra}Connection: close\r\n\r\n`);
  function birdShaped(r: { status: number; body: any; headers: string }, status: number, code: string, what: string) {
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
    assert.deepEqual(Object.keys(r.body).sort(), ['code', 'message'], `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, code, what);
    assert.equal(typeof r.body.message, 'string');
    assert.ok(r.body.message.length > 0);
    assert.match(r.headers, /content-type: application\/json/, what);
  }

  test('router and parser errors are Bird-shaped: bad percent-encodings, a too long segment, 404, 405, 431, bad Content-Length', async () => {
    for (const bad of ['%zz', '%ff', '%C0%AF', '%', 'ab%2', '%E2%82']) {
      birdShaped(await get(`/workspaces/${bad}/channels`), 400, 'BadRequest', bad);
      birdShaped(await get(`/workspaces/${t.workspaceId}/channels/${bad}/messages`), 400, 'BadRequest', `channel ${bad}`);
    }
    birdShaped(await get(`/workspaces/${'a'.repeat(201)}/channels`), 414, 'UriTooLong', '201-char segment');
    // At the limit the router matches, and the workspace simply does not exist.
    birdShaped(await get(`/workspaces/${'a'.repeat(200)}/channels`), 404, 'NotFound', '200-char segment');
    birdShaped(await get('/nope'), 404, 'NotFound', 'unknown route');
    birdShaped(await get('/workspaces%zz'), 400, 'BadRequest', 'unknown route with a bad escape');
    const wrong = await raw(`DELETE /workspaces/${t.workspaceId}/channels HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    birdShaped(wrong, 405, 'MethodNotAllowed', 'DELETE on a collection');
    assert.match(wrong.headers, /\r\nallow: get, head, post/);
    const put = await t.request('PUT', `/workspaces/${t.workspaceId}/channels/${t.channel('sms')}/messages`, valid);
    assert.equal(put.status, 405);
    assert.deepEqual(Object.keys(put.body).sort(), ['code', 'message']);
    birdShaped(await get(`/workspaces/${t.workspaceId}/channels`, `X-Big: ${'a'.repeat(20_000)}\r\n`), 431, 'RequestHeaderFieldsTooLarge', 'huge header');
    birdShaped(await get(`/${'a'.repeat(20_000)}`), 431, 'RequestHeaderFieldsTooLarge', 'huge request line');
    const post = (headers: string, body = '{}') =>
      raw(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: AccessKey ${t.key}\r\nContent-Type: application/json\r\n${headers}Connection: close\r\n\r\n${body}`);
    for (const cl of ['Content-Length: abc\r\n', 'Content-Length: -1\r\n', 'Content-Length: 2\r\nContent-Length: 3\r\n', 'Content-Length: 1e3\r\n']) {
      birdShaped(await post(cl), 400, 'BadRequest', cl.trim());
    }
    birdShaped(await raw('FOO / HTTP/1.1\r\nHost: x\r\n\r\n'), 400, 'BadRequest', 'unknown method');
    birdShaped(await raw('GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'), 400, 'BadRequest', 'bad chunk');
    // The server is still fine afterwards.
    assert.equal((await t.request('GET', `/workspaces/${t.workspaceId}/channels`)).status, 200);
  });

  test('no input produces a 500', async () => {
    const junk: unknown[] = [null, [], 1, 'x', true, {}, { receiver: null }, { receiver: { contacts: 'x' } }, { receiver: { contacts: [null] } },
      { receiver: { contacts: [{}] }, body: {} }, { body: { type: 'carousel', carousel: { items: [{ actions: [{ type: 'buy' }] }] } } },
      { receiver: { contacts: [{ identifierValue: '+31612345678' }] }, template: { parameters: [{ type: 'object', key: 'k', value: [] }] } },
      { receiver: { contacts: [{ identifierValue: '\u0000' }] }, body: { type: 'text', text: { text: '\u0000' } } },
      { receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'text', text: { text: 'x' } }, scheduledFor: 'garbage', validity: -1 },
      { receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'text', text: { text: 'x' } }, validity: 1e300 }];
    for (const body of junk) {
      const r = await t.request('POST', path, JSON.stringify(body));
      assert.ok(r.status < 500, `${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.body)}`);
    }
    for (const q of ['limit=1&limit=2', 'id[]=', 'platform[]=a&platform=b', 'pageToken=' + 'A'.repeat(9000), 'tag=%F0%9F%98%80']) {
      const r = await t.request('GET', `/workspaces/${t.workspaceId}/messages?${q}`);
      assert.ok(r.status === 200 || r.status === 400, `${q} -> ${r.status}`);
    }
  });
});

describe('rate limits', () => {
  let t: TestAviary;
  before(async () => {
    t = await startTestAviary('pglite', { rateLimit: true, rateLimitGet: 5, rateLimitPost: 500 });
  });
  after(() => t.close());

  test('429 beyond the per-workspace GET rate, with Retry-After', async () => {
    // A bucket of 5 a second lets 5 through at once and 5 more each second after: on a loaded host
    // the 12 requests may spread over a second or more, so the bound is what the elapsed time allows.
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 12 }, () => t.request('GET', `/workspaces/${t.workspaceId}/channels`)));
    const seconds = (performance.now() - started) / 1000;
    const limited = results.filter((r) => r.status === 429);
    const allowed = 5 + Math.ceil(seconds * 5);
    assert.ok(12 - limited.length <= allowed, `${12 - limited.length} of 12 passed in ${seconds.toFixed(2)} s; at most ${allowed} may`);
    if (limited.length > 0) {
      assert.equal(limited[0].body.code, 'TooManyRequests');
      assert.ok(Number(limited[0].headers.get('retry-after')) >= 1);
    }
    assert.equal(results.filter((r) => r.status === 200).length, 12 - limited.length);
  });
});
