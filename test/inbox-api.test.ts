import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger, startAviary, type Aviary } from '../src/app.ts';
import { defaultConfig } from '../src/config.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// The inbox's server side on PGlite and PostgreSQL: the page and its bundle, the session, search
// with its filters and keyset pages, timelines, conversations, and the live feed, which on
// PostgreSQL must carry what another Aviary process writes.

/** Reads server-sent events from a fetch until `until` returns true for one; fails after timeoutMs. */
async function readEvents(res: Response, until: (event: string, data: any) => boolean, timeoutMs = 3000): Promise<{ event: string; data: any }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const seen: { event: string; data: any }[] = [];
  let buffer = '';
  const deadline = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before the expected event; saw ${JSON.stringify(seen.map((s) => s.event))}`);
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data === undefined) continue;
        seen.push({ event, data: JSON.parse(data) });
        if (until(event, JSON.parse(data))) return seen;
      }
    }
  } finally {
    clearTimeout(deadline);
  }
}

for (const kind of storeKinds()) {
  describe(`inbox API (${kind})`, () => {
    let t: TestAviary;
    before(async () => {
      t = await startTestAviary(kind);
    });
    after(async () => t.close());

    const api = () => `/inbox/api/workspaces/${t.workspaceId}`;
    const inbound = async (channel: string, from: string, text: string) => {
      const r = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${channel}/sandbox/inbound`, { contact: { identifierValue: from }, body: { type: 'text', text: { text } } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body;
    };

    test('the page and its bundle are served without a key, with a strict content policy', async () => {
      const page = await fetch(`${t.url}/inbox`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type')!, /text\/html/);
      assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
      assert.match(await page.text(), /<script type="module" src="\/inbox\/app.js">/);
      const js = await fetch(`${t.url}/inbox/app.js`);
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type')!, /javascript/);
      assert.ok((await js.text()).length > 10_000);
      assert.equal((await fetch(`${t.url}/inbox/app.css`)).status, 200);
    });

    test('session: the key\'s workspaces; 401 without a key; the workspace routes check the key', async () => {
      assert.equal((await t.request('GET', '/inbox/api/session', undefined, { authorization: '' })).status, 401);
      const s = await t.request('GET', '/inbox/api/session');
      assert.equal(s.status, 200);
      assert.equal(s.body.organizationId, t.organizationId);
      assert.deepEqual(s.body.workspaces.map((w: any) => w.id), [t.workspaceId]);
      assert.equal((await t.request('GET', `${api()}/messages`, undefined, { authorization: 'AccessKey nope' })).status, 401);
      assert.equal((await t.request('GET', `${api()}/messages?limit=0`)).status, 400);
    });

    test('search: contact in either direction, text, status, tag, platform; keyset pages; timelines', async () => {
      await t.reset();
      const wa = t.channel('whatsapp');
      const sms = t.channel('sms');
      const first = await inbound(wa, '+31612340001', 'Where is parcel 42?');
      await inbound(wa, '+31612340002', 'Unrelated question');
      const sent = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${sms}/messages`, {
        receiver: { contacts: [{ identifierValue: '+31612340001' }] },
        body: { type: 'text', text: { text: 'Parcel 42 is on its way' } },
        tags: ['Orders'],
      });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      await t.waitForStatus(sent.body.id, 'delivered');

      const ids = async (q: string) => (await t.request('GET', `${api()}/messages?${q}`)).body.results.map((i: any) => i.message.id);
      assert.deepEqual(await ids(`contact=${encodeURIComponent('+31612340001')}`), [sent.body.id, first.id]);
      assert.deepEqual(await ids('text=parcel%2042'), [sent.body.id, first.id]);
      assert.deepEqual(await ids('tag=orders'), [sent.body.id]);
      assert.deepEqual(await ids('platform=whatsapp&text=parcel'), [first.id]);
      assert.deepEqual(await ids('status=delivered&platform=sms'), [sent.body.id]);
      assert.deepEqual(await ids(`channelId=${wa}&contact=${encodeURIComponent('+31612340002')}`).then((r) => r.length), 1);
      assert.deepEqual(await ids('text=nothing%25like_this'), []);

      const p1 = await t.request('GET', `${api()}/messages?limit=2`);
      assert.equal(p1.body.results.length, 2);
      assert.ok(p1.body.nextPageToken);
      const p2 = await t.request('GET', `${api()}/messages?limit=2&pageToken=${encodeURIComponent(p1.body.nextPageToken)}`);
      assert.deepEqual(p2.body.results.map((i: any) => i.message.id), [first.id]);
      assert.equal(p2.body.nextPageToken, null);

      const one = await t.request('GET', `${api()}/messages/${sent.body.id}`);
      assert.deepEqual(one.body.history.map((h: any) => h.status), await t.history(sent.body.id));
      assert.equal(one.body.message.status, 'delivered');
      assert.equal((await t.request('GET', `${api()}/messages/00000000-0000-7000-8000-000000000000`)).status, 404);

      const conv = await t.request('GET', `${api()}/conversations?channelId=${wa}`);
      assert.deepEqual(conv.body.results.map((c: any) => [c.contact, c.count]), [['+31612340002', 1], ['+31612340001', 1]]);
      assert.equal((await t.request('GET', `${api()}/conversations`)).status, 400);

      // Any receiver of a message to several finds it, not only the first.
      const both = await t.request('POST', `/workspaces/${t.workspaceId}/channels/${sms}/messages`, {
        receiver: { contacts: [{ identifierValue: '+31612340003' }, { identifierValue: '+31612340004' }] },
        body: { type: 'text', text: { text: 'To you both' } },
      });
      assert.equal(both.status, 202, JSON.stringify(both.body));
      assert.deepEqual(await ids(`channelId=${sms}&contact=${encodeURIComponent('+31612340004')}`), [both.body.id]);
      assert.deepEqual(await ids(`contact=${encodeURIComponent('+31612340003')}`), [both.body.id]);
    });

    test('live: a change written by another Aviary process on the same store reaches an open stream within 1 s', async () => {
      await t.reset();
      // On PostgreSQL the write comes from a second Aviary (its own pool and caches), as from another
      // process; PGlite has one process by design, so there it comes from the same one.
      let other: Aviary | undefined;
      let writerUrl = t.url;
      if (kind === 'postgres') {
        const config = { ...defaultConfig(), port: 0, databaseUrl: t.aviary.ctx.config.databaseUrl, bootstrap: false, logLevel: 'silent', roles: ['api' as const] };
        other = await startAviary(config, createLogger(config));
        writerUrl = other.url;
      }
      const controller = new AbortController();
      try {
        const res = await fetch(`${t.url}${api()}/events`, { headers: { authorization: `AccessKey ${t.key}` }, signal: controller.signal });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type')!, /text\/event-stream/);
        let posted = 0;
        let id = '';
        const events = await readEvents(res, (event) => {
          if (event === 'ready') {
            posted = Date.now();
            void fetch(`${writerUrl}/workspaces/${t.workspaceId}/channels/${t.channel('telegram')}/sandbox/inbound`, {
              method: 'POST',
              headers: { authorization: `AccessKey ${t.key}`, 'content-type': 'application/json' },
              body: JSON.stringify({ contact: { identifierValue: 'tg-1' }, body: { type: 'text', text: { text: 'from elsewhere' } } }),
            })
              .then((r) => r.json())
              .then((m) => (id = m.id));
          }
          return event === 'messages';
        });
        const got = Date.now();
        const items = events.at(-1)!.data;
        assert.equal(items[0].message.body.text.text, 'from elsewhere');
        if (id) assert.equal(items[0].message.id, id);
        assert.deepEqual(items[0].history.map((h: any) => h.status), ['delivered']);
        assert.ok(got - posted < 1000, `the change took ${got - posted} ms to arrive`);
      } finally {
        controller.abort();
        await other?.close();
      }
    });

    test('an open stream does not hold up shutdown', async () => {
      const u = await startTestAviary(kind);
      const res = await fetch(`${u.url}/inbox/api/workspaces/${u.workspaceId}/events`, { headers: { authorization: `AccessKey ${u.key}` } });
      assert.equal(res.status, 200);
      // Time the server's own shutdown, not the harness dropping its throwaway database after it.
      const started = Date.now();
      await u.aviary.close();
      const took = Date.now() - started;
      await u.close();
      assert.ok(took < 3000, `close took ${took} ms`);
    });
  });
}
