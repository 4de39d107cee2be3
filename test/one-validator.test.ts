import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';

// One validator (issue 9): every JSON body is checked by the one Ajv instance in src/http/validate.ts and its
// errors translated by the one ajvDetails, so the same mistake reads the same on every endpoint.

const WORDING = {
  string: 'must be a string',
  object: 'must be an object',
  unsupported: (p: string) => `property "${p}" is unsupported`,
};
// What Ajv says by itself; none of it may reach a client.
const AJV_OWN = /must NOT|must have required|must be of type|must match "|must be equal to|must pass|must be [<>]=|must match exactly/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('src/ has exactly one Ajv instance, in src/http/validate.ts', () => {
  const hits = sourceFiles(join(import.meta.dirname, '..', 'src')).flatMap((f) =>
    (readFileSync(f, 'utf8').match(/new Ajv(2019|2020)?\s*\(/g) ?? []).map(() => f),
  );
  assert.deepEqual(hits.map((f) => f.slice(f.indexOf('src'))), [join('src', 'http', 'validate.ts')]);
});

for (const kind of storeKinds()) {
  describe(`one validator (${kind})`, () => {
    let t: TestAviary;
    let project: { status: number; body: any } | undefined;
    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());

    const text = (v: unknown) => ({ receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'text', text: { text: v } } });

    async function endpoints(): Promise<Array<{ name: string; method: string; path: string; stringProbe?: { body: unknown; key: RegExp } }>> {
      const ws = `/workspaces/${t.workspaceId}`;
      const sms = t.channel('sms');
      project ??= await t.request('POST', `${ws}/projects`, { name: 'one-validator', type: 'channelTemplate' });
      assert.equal(project.status, 201, JSON.stringify(project.body));
      return [
        { name: 'channel create', method: 'POST', path: `${ws}/channels`, stringProbe: { body: { name: 5, platform: 'sms', connector: { type: 'sandbox' } }, key: /^\.name$/ } },
        { name: 'channel patch', method: 'PATCH', path: `${ws}/channels/${sms}`, stringProbe: { body: { name: 5 }, key: /^\.name$/ } },
        { name: 'send', method: 'POST', path: `${ws}/channels/${sms}/messages`, stringProbe: { body: text(5), key: /^\.body\.text\.text$/ } },
        { name: 'batch', method: 'POST', path: `${ws}/channels/${sms}/batch/messages`, stringProbe: { body: { messageRequests: [text(5)] }, key: /\.body\.text\.text$/ } },
        {
          name: 'template version',
          method: 'POST',
          path: `${ws}/projects/${project.body.id}/channel-templates`,
          stringProbe: { body: { defaultLocale: 'en', genericContent: [{ locale: 'en', body: { type: 'text', text: { text: 5 } } }] }, key: /\.text\.text$/ },
        },
        { name: 'project', method: 'POST', path: `${ws}/projects`, stringProbe: { body: { name: 5, type: 'channelTemplate' }, key: /^\.name$/ } },
        { name: 'suppressions', method: 'POST', path: `${ws}/suppressions` },
        { name: 'webhook subscriptions', method: 'POST', path: `${ws}/webhook-subscriptions` },
        { name: 'contacts', method: 'POST', path: `${ws}/contacts`, stringProbe: { body: { displayName: 5 }, key: /^\.displayName$/ } },
        { name: 'lists', method: 'POST', path: `${ws}/lists`, stringProbe: { body: { name: 5 }, key: /^\.name$/ } },
        { name: 'workspaces', method: 'POST', path: `/organizations/${t.organizationId}/workspaces`, stringProbe: { body: { name: 5 }, key: /^\.name$/ } },
        {
          name: 'sandbox inbound',
          method: 'POST',
          path: `${ws}/channels/${sms}/sandbox/inbound`,
          stringProbe: { body: { contact: { identifierValue: 5 }, body: { type: 'text', text: { text: 'hi' } } }, key: /^\.contact\.identifierValue$/ },
        },
        { name: 'media presign', method: 'POST', path: `${ws}/channel-media/presigned-upload`, stringProbe: { body: { contentType: 5 }, key: /^\.contentType$/ } },
      ];
    }

    function messages(details: Record<string, string[]>): string[] {
      return Object.values(details).flat();
    }

    test('a number where a string belongs reads "must be a string" everywhere', async () => {
      for (const e of await endpoints()) {
        if (!e.stringProbe) continue;
        let res = await t.request(e.method, e.path, e.stringProbe.body);
        // A batch accepts the request and rejects the one message, with the same details as a string.
        if (e.name === 'batch' && res.status === 202) res = { ...res, status: 422, body: { details: JSON.parse(res.body.results[0].details) } };
        assert.equal(res.status, 422, `${e.name}: ${JSON.stringify(res.body)}`);
        const keys = Object.keys(res.body.details).filter((k) => e.stringProbe!.key.test(k));
        assert.equal(keys.length, 1, `${e.name}: ${JSON.stringify(res.body.details)}`);
        assert.deepEqual(res.body.details[keys[0]], [WORDING.string], e.name);
        for (const m of messages(res.body.details)) assert.doesNotMatch(m, AJV_OWN, e.name);
      }
    });

    test('an array where an object belongs reads "must be an object" everywhere', async () => {
      for (const e of await endpoints()) {
        const res = await t.request(e.method, e.path, []);
        assert.equal(res.status, 422, `${e.name}: ${JSON.stringify(res.body)}`);
        assert.ok(res.body.details['.']?.includes(WORDING.object), `${e.name}: ${JSON.stringify(res.body.details)}`);
        for (const m of messages(res.body.details)) assert.doesNotMatch(m, AJV_OWN, e.name);
      }
    });

    test('missing and unknown properties are worded the same everywhere', async () => {
      for (const e of await endpoints()) {
        const res = await t.request(e.method, e.path, { zzzUnknown: 1 });
        if (res.status !== 422) continue; // PATCH-like bodies with no required member and an open schema
        for (const m of messages(res.body.details)) {
          assert.doesNotMatch(m, AJV_OWN, e.name);
          if (/zzzUnknown/.test(m)) assert.equal(m, WORDING.unsupported('zzzUnknown'), e.name);
          if (/is required$/.test(m) && !/either|or "/.test(m)) assert.match(m, /^property "[^"]+" is required$/, e.name);
        }
      }
    });
  });
}
