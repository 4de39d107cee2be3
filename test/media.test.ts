import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createChannel } from '../src/channels/channels.ts';
import { fetchMedia } from '../src/media/fetch.ts';
import { checkContentType } from '../src/media/platform-media.ts';
import { signUploadPolicy } from '../src/media/policy.ts';
import { mediaOf } from '../src/media/service.ts';
import { guardedLookup, isPrivateAddress, UrlGuardError } from '../src/media/url-guard.ts';
import { createWorkspace } from '../src/workspaces/workspaces.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';
import { birdConformance } from './support/bird-schema.ts';

// Presigned uploads to local storage, the send-time mediaUrl check, retrieval, signed links, inbound
// media and the per-platform content-type check at send time. The S3 backend: media-s3.test.ts.

const run = promisify(execFile);
const MAX = 256 * 1024; // the upload limit of these servers (Bird's 100 MiB would make the oversize tests slow)
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(2000, 7)]);

type Presigned = { mediaUrl: string; uploadUrl: string; uploadMethod: string; uploadFormData: Record<string, string> };

/** POSTs the form as S3 takes it: the fields (in order), then the file. */
async function upload(p: Presigned, file: Buffer | null, o: { fields?: Record<string, string>; omit?: string[]; fileField?: string; contentType?: string } = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...p.uploadFormData, ...o.fields })) if (!o.omit?.includes(k)) form.append(k, v);
  if (file) form.append(o.fileField ?? 'file', new Blob([new Uint8Array(file)], { type: o.contentType ?? 'application/octet-stream' }), 'picture.png');
  const res = await fetch(p.uploadUrl, { method: 'POST', body: form });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const decodePolicy = (p: Presigned) => JSON.parse(Buffer.from(p.uploadFormData.policy, 'base64').toString('utf8'));

for (const kind of storeKinds()) {
  describe(`media: presigned uploads, retrieval and checks (${kind})`, () => {
    const bird = birdConformance('Message');
    let t: TestAviary;
    let mediaDir: string;
    let files: Server;
    let filesUrl: string;
    let fileRequests = 0;
    const ws = () => `/workspaces/${t.workspaceId}`;
    const ch = (platform: string) => `${ws()}/channels/${t.channel(platform)}`;

    const presign = async (contentType = 'image/png', channel?: string): Promise<Presigned> => {
      const path = channel ? `${ch(channel)}/presigned-upload` : `${ws()}/channel-media/presigned-upload`;
      const res = await t.request('POST', path, { contentType });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    };
    const uploaded = async (contentType = 'image/png', channel?: string, bytes = PNG) => {
      const p = await presign(contentType, channel);
      const res = await upload(p, bytes);
      assert.equal(res.status, 204, JSON.stringify(res.body));
      return p;
    };
    const getMedia = async (url: string, headers: Record<string, string> = { authorization: `AccessKey ${t.key}` }) => {
      const res = await fetch(url, { headers });
      return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
    };
    const send = (platform: string, body: unknown, to = '+31612345678') =>
      t.request('POST', `${ch(platform)}/messages`, { receiver: { contacts: [{ identifierValue: to }] }, body });
    const image = (mediaUrl: string) => ({ type: 'image', image: { images: [{ mediaUrl }] } });
    const storedFiles = async () => {
      const out: string[] = [];
      for (const w of await readdir(mediaDir).catch(() => [] as string[])) for (const f of await readdir(join(mediaDir, w))) out.push(`${w}/${f}`);
      return out;
    };
    const openWhatsAppWindow = async (from = '+31612345678') => {
      const res = await t.request('POST', `${ch('whatsapp')}/sandbox/inbound`, { contact: { identifierValue: from }, body: { type: 'text', text: { text: 'hi' } } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    };

    before(async () => {
      mediaDir = await mkdtemp(join(tmpdir(), 'aviary-media-test-'));
      t = await startTestAviary(kind, { mediaDir, mediaMaxBytes: MAX, mediaAllowPrivateUrls: true, mediaFetchTimeoutMs: 1000 });
      // A provider's file server on loopback: /image.png, /big (over the limit, declared), /chunked-big
      // (over the limit, undeclared), /slow (never answers), /missing (404).
      files = createServer((req, res) => {
        fileRequests++;
        if (req.url === '/image.png') return res.writeHead(200, { 'content-type': 'image/png', 'content-length': PNG.length }).end(PNG);
        if (req.url === '/big') return res.writeHead(200, { 'content-type': 'image/png', 'content-length': MAX + 1 }).end(Buffer.alloc(MAX + 1));
        if (req.url === '/chunked-big') {
          res.writeHead(200, { 'content-type': 'image/png' });
          for (let i = 0; i < 8; i++) res.write(Buffer.alloc(MAX / 4));
          return res.end();
        }
        if (req.url === '/redirect') return res.writeHead(302, { location: '/image.png' }).end();
        if (req.url === '/slow') return; // never answers
        res.writeHead(404).end();
      });
      await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
      filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
    });
    after(async () => {
      files.closeAllConnections();
      await new Promise((r) => files.close(r));
      await t.close();
      await rm(mediaDir, { recursive: true, force: true });
    });
    beforeEach(async () => {
      await t.reset();
      await rm(mediaDir, { recursive: true, force: true });
    });

    test('presigned upload: Bird\'s response shape, a signed policy with expiry, exact type, size, key, workspace and channel', async () => {
      const p = await presign('image/png');
      assert.deepEqual(Object.keys(p).sort(), ['mediaUrl', 'uploadFormData', 'uploadMethod', 'uploadUrl']);
      assert.equal(p.uploadMethod, 'POST');
      assert.equal(p.uploadUrl, `${t.url}/media`);
      assert.match(p.mediaUrl, new RegExp(`^${t.url}/workspaces/${t.workspaceId}/channel-media/[0-9a-f-]{36}$`));
      const id = p.mediaUrl.split('/').pop();
      assert.deepEqual(Object.keys(p.uploadFormData), ['Content-Type', 'key', 'x-aviary-meta-workspace-id', 'policy', 'x-aviary-signature']);
      assert.equal(p.uploadFormData.key, `${t.workspaceId}/${id}`);
      const policy = decodePolicy(p);
      const expires = new Date(policy.expiration).getTime();
      assert.ok(expires > Date.now() + 3500_000 && expires <= Date.now() + 3600_000, policy.expiration);
      assert.deepEqual(policy.conditions, [
        { 'Content-Type': 'image/png' },
        { key: `${t.workspaceId}/${id}` },
        { 'x-aviary-meta-workspace-id': t.workspaceId },
        ['content-length-range', 1, MAX],
      ]);

      const bound = await presign('video/mp4', 'whatsapp');
      assert.match(bound.mediaUrl, new RegExp(`^${t.url}${ch('whatsapp')}/media/[0-9a-f-]{36}$`));
      assert.equal(bound.uploadFormData['x-aviary-meta-channel-id'], t.channel('whatsapp'));
      assert.ok(decodePolicy(bound).conditions.some((c: any) => c['x-aviary-meta-channel-id'] === t.channel('whatsapp')));
    });

    test('presign requests are validated like any Bird body', async () => {
      const path = `${ws()}/channel-media/presigned-upload`;
      assert.equal((await t.request('POST', path, {})).body.details['.'][0], 'property "contentType" is required');
      assert.equal((await t.request('POST', path, { contentType: '' })).status, 422);
      assert.equal((await t.request('POST', path, { contentType: 'image/png', extra: 1 })).status, 422);
      assert.equal((await t.request('POST', path, { contentType: 'image/png\r\nx: y' })).status, 422);
      assert.equal((await t.request('POST', path)).status, 400);
      assert.equal((await t.request('POST', path, { contentType: 'image/png' }, { authorization: '' })).status, 401);
      const zero = '00000000-0000-4000-8000-000000000000';
      assert.equal((await t.request('POST', `${ws()}/channels/${zero}/presigned-upload`, { contentType: 'image/png' })).status, 404);
    });

    test('the seed\'s curl flow works verbatim: upload with no access key (204), retrieve, send', async () => {
      const p = await presign('image/png');
      const dir = await mkdtemp(join(tmpdir(), 'aviary-curl-'));
      try {
        const file = join(dir, 'local-filename.png');
        await writeFile(file, PNG);
        const args = ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST'];
        for (const [k, v] of Object.entries(p.uploadFormData)) args.push('-F', `${k}=${v}`);
        args.push('-F', `file=@${file}`, p.uploadUrl);
        const { stdout } = await run('curl', args);
        assert.equal(stdout, '204');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      const got = await getMedia(p.mediaUrl);
      assert.equal(got.status, 200);
      assert.equal(got.headers.get('content-type'), 'image/png');
      assert.equal(got.headers.get('content-length'), String(PNG.length));
      assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
      assert.deepEqual(got.bytes, PNG);
      assert.equal((await getMedia(p.mediaUrl, {})).status, 401, 'retrieval needs an access key');

      const sent = await send('telegram', image(p.mediaUrl), '12345');
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      assert.equal(sent.body.body.image.images[0].mediaUrl, p.mediaUrl);
      await t.waitForStatus(sent.body.id, 'delivered');
      bird.collect('the seed\'s curl flow works verbatim: upload', sent.body);
    });

    test('uploaded media work in every kind of body: image, file, gif, attachments, carousel, list, sections', async () => {
      const p = await uploaded('image/png');
      const pdf = await uploaded('application/pdf');
      const bodies: [string, unknown, string?][] = [
        ['telegram', image(p.mediaUrl), '12345'],
        ['telegram', { type: 'file', file: { files: [{ mediaUrl: pdf.mediaUrl, contentType: 'application/pdf' }] } }, '12345'],
        ['telegram', { type: 'gif', gif: { mediaUrl: p.mediaUrl } }, '12345'],
        ['rcs', { type: 'carousel', carousel: { items: [{ title: 'a', description: 'b', mediaUrl: p.mediaUrl }] } }],
        ['rcs', { type: 'list', list: { text: 'pick', items: [{ title: 'a', mediaUrl: p.mediaUrl }] } }],
      ];
      for (const [platform, body, to] of bodies) {
        const res = await send(platform, body, to);
        assert.equal(res.status, 202, `${platform} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        await t.waitForStatus(res.body.id, 'delivered');
      }
      const mail = await t.request('POST', `${ch('email')}/messages`, {
        receiver: { contacts: [{ identifierValue: 'ann@example.com' }] },
        body: { type: 'text', text: { text: 'see attached', metadata: { subject: 'S' }, attachments: [{ mediaUrl: pdf.mediaUrl, filename: 'a.pdf' }] } },
      });
      assert.equal(mail.status, 202, JSON.stringify(mail.body));
      await t.waitForStatus(mail.body.id, 'delivered');
    });

    test('send-time check: unknown, not uploaded, other workspace, other channel, non-media URLs get 422 with the URL\'s path', async () => {
      const pending = await presign('image/png');
      const ok = await uploaded('image/png');
      const unknownId = `${t.url}${ws()}/channel-media/0190f5a0-0000-7000-8000-000000000000`;
      const otherWs = `${t.url}/workspaces/0190f5a0-0000-7000-8000-000000000001/channel-media/${ok.mediaUrl.split('/').pop()}`;
      const res = await send('rcs', {
        type: 'carousel',
        carousel: {
          items: [
            { title: 'ok', description: 'x', mediaUrl: ok.mediaUrl },
            { title: 'pending', description: 'x', mediaUrl: pending.mediaUrl },
            { title: 'unknown', description: 'x', mediaUrl: unknownId },
            { title: 'other workspace', description: 'x', mediaUrl: otherWs },
            { title: 'not media', description: 'x', mediaUrl: `${t.url}/health` },
            { title: 'external', description: 'x', mediaUrl: 'https://example.com/a.png' },
          ],
        },
      });
      assert.equal(res.status, 422);
      assert.equal(res.body.code, 'InvalidPayload');
      assert.deepEqual(Object.keys(res.body.details).sort(), [1, 2, 3, 4].map((i) => `.body.carousel.items[${i}].mediaUrl`));
      assert.match(res.body.details['.body.carousel.items[1].mediaUrl'][0], /has not been uploaded yet/);
      assert.match(res.body.details['.body.carousel.items[2].mediaUrl'][0], /does not exist/);
      assert.match(res.body.details['.body.carousel.items[3].mediaUrl'][0], /another workspace/);
      assert.match(res.body.details['.body.carousel.items[4].mediaUrl'][0], /not an Aviary media URL/);

      // Paths inside every body kind, sections included.
      const cases: [string, unknown, string, string?][] = [
        ['telegram', image(pending.mediaUrl), '.body.image.images[0].mediaUrl', '12345'],
        ['telegram', { type: 'file', file: { files: [{ mediaUrl: pending.mediaUrl, contentType: 'image/png' }] } }, '.body.file.files[0].mediaUrl', '12345'],
        ['telegram', { type: 'gif', gif: { mediaUrl: pending.mediaUrl } }, '.body.gif.mediaUrl', '12345'],
        ['rcs', { type: 'list', list: { text: 'x', items: [{ title: 'a', mediaUrl: pending.mediaUrl }] } }, '.body.list.items[0].mediaUrl'],
        [
          'whatsapp',
          { type: 'section', section: { items: [{ type: 'text', text: { text: 'x' } }, { type: 'image', image: { images: [{ mediaUrl: pending.mediaUrl }] } }] } },
          '.body.section.items[1].image.images[0].mediaUrl',
        ],
      ];
      for (const [platform, body, path, to] of cases) {
        const r = await send(platform, body, to);
        assert.equal(r.status, 422, JSON.stringify(r.body));
        assert.deepEqual(Object.keys(r.body.details), [path]);
      }
      const mail = await t.request('POST', `${ch('email')}/messages`, {
        receiver: { contacts: [{ identifierValue: 'ann@example.com' }] },
        body: { type: 'html', html: { html: '<p>x</p>', metadata: { subject: 'S' }, attachments: [{ mediaUrl: unknownId, filename: 'a.png' }] } },
      });
      assert.deepEqual(Object.keys(mail.body.details), ['.body.html.attachments[0].mediaUrl']);

      // In a batch, the bad entry is rejected and the good one accepted.
      const batch = await t.request('POST', `${ch('telegram')}/batch/messages`, {
        messageRequests: [
          { receiver: { contacts: [{ identifierValue: '12345' }] }, body: image(ok.mediaUrl) },
          { receiver: { contacts: [{ identifierValue: '12345' }] }, body: image(pending.mediaUrl) },
        ],
      });
      assert.equal(batch.status, 202, JSON.stringify(batch.body));
      assert.deepEqual(batch.body.results.map((m: any) => m.status), ['accepted', 'rejected']);
    });

    test('media of another workspace of the organization cannot be sent, nor read with its id', async () => {
      const other = await createWorkspace(t.aviary.ctx.db, t.organizationId, 'other');
      await createChannel(t.aviary.ctx.db, other.id, { platform: 'telegram', name: 'tg' });
      const res = await t.request('POST', `/workspaces/${other.id}/channel-media/presigned-upload`, { contentType: 'image/png' });
      assert.equal(res.status, 200);
      assert.equal((await upload(res.body, PNG)).status, 204);
      const theirs: string = res.body.mediaUrl;
      const sent = await send('telegram', image(theirs), '12345');
      assert.equal(sent.status, 422);
      assert.match(sent.body.details['.body.image.images[0].mediaUrl'][0], /another workspace/);
      // The same media id under our workspace is not ours either.
      const mine = await getMedia(`${t.url}${ws()}/channel-media/${theirs.split('/').pop()}`);
      assert.equal(mine.status, 404);
      assert.equal((await getMedia(theirs)).status, 200, 'the org-wide key may read it in its own workspace');
    });

    test('a channel-bound upload is sent only on its channel and read only under its channel path', async () => {
      const p = await uploaded('image/png', 'rcs');
      const elsewhere = await send('telegram', image(p.mediaUrl), '12345');
      assert.equal(elsewhere.status, 422);
      assert.match(elsewhere.body.details['.body.image.images[0].mediaUrl'][0], /can only be sent there/);
      const there = await send('rcs', image(p.mediaUrl));
      assert.equal(there.status, 202, JSON.stringify(there.body));
      assert.equal((await getMedia(p.mediaUrl)).status, 200);
      const id = p.mediaUrl.split('/').pop();
      assert.equal((await getMedia(`${t.url}${ws()}/channel-media/${id}`)).status, 404);
      assert.equal((await getMedia(`${t.url}${ch('telegram')}/media/${id}`)).status, 404);
      assert.equal((await getMedia(`${t.url}${ws()}/channel-media/not-a-uuid`)).status, 404);
    });

    test('refused uploads store nothing and say why: tampered, expired, reused, other type, oversized, missing or empty file', async () => {
      const p = await presign('image/png');
      const expectRefused = async (res: { status: number; body: any }, status: number, code: string, message: RegExp) => {
        assert.equal(res.status, status, JSON.stringify(res.body));
        assert.equal(res.body.code, code);
        assert.match(res.body.message, message);
        assert.deepEqual(await storedFiles(), [], 'nothing stored');
        assert.equal((await getMedia(p.mediaUrl)).status, 409, 'still not uploaded');
      };
      const tampered = Buffer.from(JSON.stringify({ ...decodePolicy(p), expiration: '2099-01-01T00:00:00.000Z' })).toString('base64');
      await expectRefused(await upload(p, PNG, { fields: { policy: tampered } }), 403, 'AccessDenied', /signature does not match/);
      await expectRefused(await upload(p, PNG, { fields: { 'x-aviary-signature': 'ab'.repeat(32) } }), 403, 'AccessDenied', /signature does not match/);
      await expectRefused(await upload(p, PNG, { omit: ['policy'] }), 403, 'AccessDenied', /no "policy" field/);
      await expectRefused(await upload(p, PNG, { omit: ['key'] }), 403, 'AccessDenied', /no "key" field/);
      await expectRefused(await upload(p, PNG, { fields: { key: `${t.workspaceId}/0190f5a0-0000-7000-8000-000000000000` } }), 403, 'AccessDenied', /field "key"/);
      await expectRefused(await upload(p, PNG, { fields: { 'Content-Type': 'image/gif' } }), 403, 'AccessDenied', /Content-Type is "image\/gif" but the policy allows only "image\/png"/);
      await expectRefused(await upload(p, PNG, { fields: { acl: 'public-read' } }), 403, 'AccessDenied', /"acl" not allowed/);
      await expectRefused(await upload(p, Buffer.alloc(MAX + 1, 1)), 413, 'EntityTooLarge', new RegExp(`${MAX} bytes`));
      await expectRefused(await upload(p, null), 400, 'BadRequest', /no "file" field/);
      await expectRefused(await upload(p, Buffer.alloc(0)), 400, 'BadRequest', /empty/);
      await expectRefused(await upload(p, PNG, { fileField: 'upload' }), 400, 'BadRequest', /field named "file"/);
      const notMultipart = await fetch(p.uploadUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(p.uploadFormData) });
      await expectRefused({ status: notMultipart.status, body: await notMultipart.json() }, 415, 'UnsupportedMediaType', /multipart\/form-data/);

      // A policy that is validly signed but expired.
      const id = p.mediaUrl.split('/').pop()!;
      const secret = await mediaOf(t.aviary.ctx).secret();
      const expired = signUploadPolicy(secret, { key: p.uploadFormData.key, contentType: 'image/png', workspaceId: t.workspaceId, channelId: null, maxBytes: MAX, expiresAt: new Date(Date.now() - 1000) });
      await expectRefused(await upload({ ...p, uploadFormData: expired }, PNG), 403, 'AccessDenied', /expired at/);
      assert.equal(id.length, 36);

      // None of that used the policy up: it still works, exactly once.
      assert.equal((await upload(p, PNG)).status, 204);
      assert.deepEqual(await storedFiles(), [p.uploadFormData.key]);
      const again = await upload(p, Buffer.from('other bytes'));
      assert.equal(again.status, 409);
      assert.match(again.body.message, /already used/);
      assert.deepEqual((await getMedia(p.mediaUrl)).bytes, PNG, 'the stored file is unchanged');
    });

    test('an upload streams in chunks up to the limit exactly', async () => {
      const p = await presign('application/octet-stream');
      const bytes = Buffer.alloc(MAX);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 255;
      assert.equal((await upload(p, bytes)).status, 204);
      const got = await getMedia(p.mediaUrl);
      assert.equal(got.bytes.length, MAX);
      assert.ok(got.bytes.equals(bytes));
    });

    test('signed links: readable without a key until they expire; a changed signature or expiry is refused', async () => {
      const p = await uploaded('image/png');
      const svc = mediaOf(t.aviary.ctx);
      const row = (await svc.find(t.workspaceId, p.mediaUrl.split('/').pop()!))!;
      const link = await svc.signedUrl(row, 60);
      assert.match(link, new RegExp(`^${t.url}/media/${t.workspaceId}/[0-9a-f-]{36}\\?expires=\\d+&signature=[0-9a-f]{64}$`));
      const ok = await getMedia(link, {});
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.bytes, PNG);
      const url = new URL(link);
      const bad = (mutate: (u: URL) => void) => {
        const u = new URL(url);
        mutate(u);
        return fetch(u).then(async (r) => ({ status: r.status, body: await r.json() }));
      };
      const forged = await bad((u) => u.searchParams.set('signature', '0'.repeat(64)));
      assert.equal(forged.status, 403);
      assert.equal(forged.body.code, 'AccessDenied');
      assert.equal((await bad((u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600)))).status, 403);
      assert.equal((await bad((u) => u.searchParams.delete('signature'))).status, 403);
      const expired = await getMedia(await svc.signedUrl(row, -1), {});
      assert.equal(expired.status, 403);
      // Connectors resolve a mediaUrl to the stored media (and a link) or to an external fetch.
      const resolved = await svc.resolve(t.workspaceId, p.mediaUrl);
      assert.equal(resolved.kind, 'stored');
      if (resolved.kind === 'stored') {
        assert.equal(resolved.contentType, 'image/png');
        assert.equal((await getMedia(await resolved.signedUrl(), {})).status, 200);
      }
      assert.equal((await svc.resolve(t.workspaceId, 'https://example.com/a.png')).kind, 'external');
    });

    test('inbound: an upload sent in by a sandbox contact becomes media of the message, retrievable with a key', async () => {
      const p = await uploaded('image/png');
      const res = await t.request('POST', `${ch('telegram')}/sandbox/inbound`, {
        contact: { identifierValue: '987' },
        body: { type: 'file', file: { files: [{ mediaUrl: p.mediaUrl, contentType: 'image/png', filename: 'cat.png' }] } },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const url: string = res.body.body.file.files[0].mediaUrl;
      assert.match(url, new RegExp(`^${t.url}${ws()}/messages/${res.body.id}/media/[0-9a-f-]{36}$`));
      bird.collect('inbound: an upload sent in by a sandbox', res.body);
      const got = await getMedia(url);
      assert.equal(got.status, 200);
      assert.deepEqual(got.bytes, PNG);
      assert.match(got.headers.get('content-disposition') ?? '', /filename="cat.png"/);
      const stored = await t.request('GET', `${ws()}/messages/${res.body.id}`);
      assert.equal(stored.body.body.file.files[0].mediaUrl, url);
      // The received media can be forwarded in a send.
      const fwd = await send('telegram', image(url), '12345');
      assert.equal(fwd.status, 202, JSON.stringify(fwd.body));
      // Under another message id it is not found.
      assert.equal((await getMedia(url.replace(res.body.id, '0190f5a0-0000-7000-8000-000000000000'))).status, 404);
      // An unknown upload in an inbound body is refused like in a send.
      const bad = await t.request('POST', `${ch('telegram')}/sandbox/inbound`, { contact: { identifierValue: '987' }, body: image(`${t.url}${ws()}/channel-media/0190f5a0-0000-7000-8000-000000000000`) });
      assert.equal(bad.status, 422);
      assert.ok(bad.body.details['.body.image.images[0].mediaUrl']);
      // External links stay as they are unless the sandbox channel is told to fetch them.
      const plain = await t.request('POST', `${ch('telegram')}/sandbox/inbound`, { contact: { identifierValue: '987' }, body: image('https://example.com/p.png') });
      assert.equal(plain.body.body.image.images[0].mediaUrl, 'https://example.com/p.png');
    });

    test('inbound: a provider\'s link is fetched and stored, and keeps working after the link is gone', async () => {
      await t.request('PATCH', ch('telegram'), { connector: { config: { fetchInboundMedia: true } } });
      const inbound = (body: unknown) => t.request('POST', `${ch('telegram')}/sandbox/inbound`, { contact: { identifierValue: '987' }, body });
      const res = await inbound(image(`${filesUrl}/redirect`));
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const url: string = res.body.body.image.images[0].mediaUrl;
      assert.ok(url.startsWith(`${t.url}${ws()}/messages/${res.body.id}/media/`), url);
      const row = (await mediaOf(t.aviary.ctx).find(t.workspaceId, url.split('/').pop()!))!;
      assert.equal(row.source_url, `${filesUrl}/redirect`);
      // Retrieval never goes back to the provider: its link may be long gone.
      const before = fileRequests;
      const got = await getMedia(url);
      assert.equal(fileRequests, before);
      assert.equal(got.status, 200);
      assert.equal(got.headers.get('content-type'), 'image/png');
      assert.deepEqual(got.bytes, PNG);

      const refused: [string, RegExp][] = [
        [`${filesUrl}/big`, new RegExp(`larger than ${MAX} bytes`)],
        [`${filesUrl}/chunked-big`, new RegExp(`larger than ${MAX} bytes`)],
        [`${filesUrl}/slow`, /took longer than 1000 ms/],
        [`${filesUrl}/missing`, /HTTP 404/],
        ['ftp://example.com/a.png', /only http and https/],
      ];
      for (const [link, why] of refused) {
        const r = await inbound(image(link));
        assert.equal(r.status, 422, `${link}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.details['.body.image.images[0].mediaUrl'][0], why);
      }
      const rows = (await t.aviary.ctx.db.selectFrom('messages').select('id').where('workspace_id', '=', t.workspaceId).where('direction', '=', 'incoming').execute()).length;
      assert.equal(rows, 1, 'refused inbound messages are not recorded');
    });

    test('the URL guard keeps fetches off private addresses, also through DNS', async () => {
      for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:7f00:1']) {
        assert.equal(isPrivateAddress(a), true, a);
      }
      for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111']) assert.equal(isPrivateAddress(a), false, a);
      const limits = { maxBytes: MAX, timeoutMs: 1000, allowPrivate: false };
      for (const url of [`${filesUrl}/image.png`, 'http://10.0.0.1/a.png', 'http://[::1]:1/a', 'http://169.254.169.254/latest/meta-data', 'http://localhost:1/a']) {
        await assert.rejects(fetchMedia(url, limits), (err: Error) => err instanceof UrlGuardError && /private address|localhost/.test(err.message), url);
      }
      // A name that resolves to a private address is refused when it is looked up (no rebinding).
      const err = await new Promise<Error | null>((r) => guardedLookup(false)('localhost', { all: true }, (e) => r(e)));
      assert.ok(err instanceof UrlGuardError, String(err));
      const ok = await fetchMedia(`${filesUrl}/image.png`, { ...limits, allowPrivate: true });
      assert.equal(ok.contentType, 'image/png');
      ok.stream.resume();
    });

    test('content types are checked when a message goes to its platform: Bird 12002, WhatsApp 131053', async () => {
      await openWhatsAppWindow();
      const gif = await uploaded('image/gif');
      const png = await uploaded('image/png');
      const bad = await send('whatsapp', image(gif.mediaUrl));
      assert.equal(bad.status, 202, 'accepted: the platform check happens at send time');
      const failed = await t.waitForStatus(bad.body.id, 'sending_failed');
      assert.equal(failed.failure.code, 12002);
      assert.deepEqual(failed.failure.source, { name: 'whatsapp', code: '131053' });
      assert.match(failed.failure.description, /^Unsupported media type: body\.image\.images\[0\]\.mediaUrl: image\/gif is not accepted for an image on whatsapp \(accepted: image\/jpeg, image\/png\)/);
      bird.collect('content types are checked when a message goes', failed);

      const good = await send('whatsapp', image(png.mediaUrl));
      await t.waitForStatus(good.body.id, 'delivered');
      // A GIF body takes the GIF; a declared type of an external file is checked too.
      const anim = await send('whatsapp', { type: 'gif', gif: { mediaUrl: gif.mediaUrl } });
      await t.waitForStatus(anim.body.id, 'delivered');
      const zip = await send('whatsapp', { type: 'file', file: { files: [{ mediaUrl: 'https://example.com/a.zip', contentType: 'application/zip' }] } });
      const zipFailed = await t.waitForStatus(zip.body.id, 'sending_failed');
      assert.equal(zipFailed.failure.code, 12002);
      // Telegram takes GIF images.
      const tg = await send('telegram', image(gif.mediaUrl), '12345');
      await t.waitForStatus(tg.body.id, 'delivered');
    });

    test('the per-platform table', () => {
      assert.equal(checkContentType('whatsapp', 'image', 'image/jpeg'), undefined);
      assert.equal(checkContentType('whatsapp', 'image', 'Image/JPG; q=1'), undefined);
      assert.match(checkContentType('whatsapp', 'image', 'image/webp')!, /not accepted/);
      assert.equal(checkContentType('whatsapp', 'file', 'video/3gpp'), undefined);
      assert.equal(checkContentType('whatsapp', 'file', 'application/pdf'), undefined);
      assert.match(checkContentType('whatsapp', 'file', 'video/quicktime')!, /not accepted/);
      assert.match(checkContentType('whatsapp', 'image', 'image/png', 6 * 1024 * 1024)!, /larger than whatsapp accepts \(5242880 bytes\)/);
      assert.equal(checkContentType('whatsapp', 'file', 'video/mp4', 15 * 1024 * 1024), undefined);
      assert.equal(checkContentType('email', 'attachment', 'application/zip'), undefined);
      assert.match(checkContentType('line', 'image', 'image/gif')!, /not accepted/);
    });
    bird.test(3);
  });
}
