import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, beforeEach, describe, test } from 'node:test';
import { mediaOf } from '../src/media/service.ts';
import { startTestAviary, type TestAviary } from './support/harness.ts';

// The S3 backend against a real S3-compatible server on loopback (s3rver, a devDependency): the
// presigned POST is the store's own (the AWS SDK's), the upload goes straight to the store, and
// Aviary checks at send time that the object is there and is what the policy allowed.
//
// s3rver stores what it is sent without enforcing POST policies (real S3, MinIO, Ceph do), so the
// policy is checked here by recomputing its AWS SigV4 signature and reading its conditions, and
// Aviary's own check of the stored object (HEAD: workspace, type, size) is tested with an upload that
// breaks the policy.

const run = promisify(execFile);
const BUCKET = 'aviary-media';
const MAX = 256 * 1024;
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(3000, 9)]);

type Presigned = { mediaUrl: string; uploadUrl: string; uploadMethod: string; uploadFormData: Record<string, string> };

let S3rver: (new (o: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> }) | undefined;
let missing = '';
try {
  const name = 's3rver';
  S3rver = (await import(name)).default;
} catch (err) {
  missing = `s3rver is not installed (${(err as Error).message}); run npm ci to test the S3 backend`;
}

async function upload(p: Presigned, file: Buffer, fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...p.uploadFormData, ...fields })) form.append(k, v);
  form.append('file', new Blob([new Uint8Array(file)]), 'picture.png');
  const res = await fetch(p.uploadUrl, { method: 'POST', body: form });
  return { status: res.status, text: await res.text() };
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

describe('media on an S3-compatible store (s3rver on loopback)', { skip: missing || false }, () => {
  let t: TestAviary;
  let s3: InstanceType<NonNullable<typeof S3rver>>;
  let s3Dir: string;
  let endpoint: string;
  const ws = () => `/workspaces/${t.workspaceId}`;
  const ch = (platform: string) => `${ws()}/channels/${t.channel(platform)}`;
  const presign = async (contentType = 'image/png', channel?: string): Promise<Presigned> => {
    const res = await t.request('POST', channel ? `${ch(channel)}/presigned-upload` : `${ws()}/channel-media/presigned-upload`, { contentType });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const send = (platform: string, mediaUrl: string, to = '12345') =>
    t.request('POST', `${ch(platform)}/messages`, { receiver: { contacts: [{ identifierValue: to }] }, body: { type: 'image', image: { images: [{ mediaUrl }] } } });
  const getMedia = async (url: string, headers: Record<string, string> = { authorization: `AccessKey ${t.key}` }) => {
    const res = await fetch(url, { headers });
    return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
  };

  before(async () => {
    s3Dir = await mkdtemp(join(tmpdir(), 'aviary-s3rver-'));
    s3 = new S3rver!({ port: 0, address: '127.0.0.1', silent: true, directory: s3Dir, configureBuckets: [{ name: BUCKET }] });
    const { port } = await s3.run();
    endpoint = `http://127.0.0.1:${port}`;
    t = await startTestAviary('pglite', {
      mediaS3Bucket: BUCKET,
      mediaS3Endpoint: endpoint,
      mediaS3Region: 'us-east-1',
      mediaS3ForcePathStyle: true,
      mediaS3AccessKeyId: 'S3RVER',
      mediaS3SecretAccessKey: 'S3RVER',
      mediaMaxBytes: MAX,
    });
  });
  after(async () => {
    await t?.close();
    await s3?.close();
    await rm(s3Dir, { recursive: true, force: true });
  });
  beforeEach(() => t.reset());

  test('the presigned POST is the store\'s own, its policy signed with the store\'s key and pinning type, size, key, workspace and channel', async () => {
    const p = await presign('image/png', 'telegram');
    assert.equal(p.uploadUrl, `${endpoint}/${BUCKET}`);
    assert.equal(p.uploadMethod, 'POST');
    const id = p.mediaUrl.split('/').pop();
    assert.equal(p.mediaUrl, `${t.url}${ch('telegram')}/media/${id}`);
    const f = p.uploadFormData;
    assert.equal(f.key, `${t.workspaceId}/${id}`);
    assert.equal(f['Content-Type'], 'image/png');
    assert.equal(f['x-amz-meta-workspace-id'], t.workspaceId);
    assert.equal(f['x-amz-meta-channel-id'], t.channel('telegram'));
    assert.equal(f['X-Amz-Algorithm'], 'AWS4-HMAC-SHA256');
    assert.equal(f.bucket, BUCKET);
    const policy = JSON.parse(Buffer.from(f.Policy, 'base64').toString('utf8'));
    const expires = new Date(policy.expiration).getTime();
    assert.ok(expires > Date.now() + 3500_000 && expires <= Date.now() + 3600_000 + 1000);
    for (const c of [
      ['content-length-range', 1, MAX],
      { 'Content-Type': 'image/png' },
      { key: f.key },
      { bucket: BUCKET },
      { 'x-amz-meta-workspace-id': t.workspaceId },
      { 'x-amz-meta-channel-id': t.channel('telegram') },
    ]) {
      assert.ok(policy.conditions.some((x: unknown) => JSON.stringify(x) === JSON.stringify(c)), `policy has ${JSON.stringify(c)}: ${JSON.stringify(policy.conditions)}`);
    }
    // The signature S3 checks: SigV4 over the base64 policy with the store's secret.
    const [, date, region, service] = f['X-Amz-Credential'].split('/');
    const key = hmac(hmac(hmac(hmac('AWS4S3RVER', date), region), service), 'aws4_request');
    assert.equal(f['X-Amz-Signature'], hmac(key, f.Policy).toString('hex'));
    assert.equal(f['X-Amz-Credential'].split('/')[0], 'S3RVER');
  });

  test('curl uploads straight to the store (204); Aviary then sends and serves it', async () => {
    const p = await presign('image/png');
    const sentEarly = await send('telegram', p.mediaUrl);
    assert.equal(sentEarly.status, 422, 'not uploaded yet');
    assert.match(sentEarly.body.details['.body.image.images[0].mediaUrl'][0], /has not been uploaded yet/);
    assert.equal((await getMedia(p.mediaUrl)).status, 409);

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

    const sent = await send('telegram', p.mediaUrl);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    await t.waitForStatus(sent.body.id, 'delivered');
    const got = await getMedia(p.mediaUrl);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    assert.deepEqual(got.bytes, PNG);
    const svc = mediaOf(t.aviary.ctx);
    const row = (await svc.find(t.workspaceId, p.mediaUrl.split('/').pop()!))!;
    assert.equal(row.status, 'ready');
    assert.equal(Number(row.size), PNG.length);
    const link = await getMedia(await svc.signedUrl(row, 60), {});
    assert.deepEqual(link.bytes, PNG);
    // Aviary's own upload endpoint is not used with S3 storage.
    const local = await fetch(`${t.url}/media`, { method: 'POST', body: (() => { const f = new FormData(); f.append('file', new Blob(['x']), 'x'); return f; })() });
    assert.equal(local.status, 400);
  });

  test('an object that breaks its policy (another type, another workspace) is not taken at send time', async () => {
    const p = await presign('image/png');
    // s3rver does not enforce the policy: the object lands with the wrong type; Aviary's HEAD check refuses it.
    assert.equal((await upload(p, PNG, { 'Content-Type': 'image/gif' })).status, 204);
    const sent = await send('telegram', p.mediaUrl);
    assert.equal(sent.status, 422);
    assert.match(sent.body.details['.body.image.images[0].mediaUrl'][0], /has not been uploaded yet/);
    const q = await presign('image/png');
    assert.equal((await upload(q, PNG, { 'x-amz-meta-workspace-id': '0190f5a0-0000-7000-8000-000000000000' })).status, 204);
    assert.equal((await send('telegram', q.mediaUrl)).status, 422);
    // Uploaded again as the policy says, it is taken.
    assert.equal((await upload(q, PNG)).status, 204);
    assert.equal((await send('telegram', q.mediaUrl)).status, 202);
  });

  test('inbound media are stored in the bucket and served by Aviary', async () => {
    const p = await presign('image/png');
    assert.equal((await upload(p, PNG)).status, 204);
    const res = await t.request('POST', `${ch('telegram')}/sandbox/inbound`, {
      contact: { identifierValue: '987' },
      body: { type: 'image', image: { images: [{ mediaUrl: p.mediaUrl }] } },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const url: string = res.body.body.image.images[0].mediaUrl;
    assert.match(url, new RegExp(`/messages/${res.body.id}/media/`));
    assert.deepEqual((await getMedia(url)).bytes, PNG);
    // A file put by Aviary itself (as a connector storing a provider's file does) goes to the bucket.
    const svc = mediaOf(t.aviary.ctx);
    const { Readable } = await import('node:stream');
    const row = await svc.storeInbound(t.workspaceId, t.channel('telegram'), res.body.id, Readable.from([PNG.subarray(0, 1000), PNG.subarray(1000)]), { contentType: 'image/png' });
    assert.equal(row.storage, 's3');
    assert.equal(Number(row.size), PNG.length);
    const head = await (await svc.storage()).head(row.object_key);
    assert.equal(head?.size, PNG.length);
    assert.deepEqual((await getMedia(svc.mediaUrl(row))).bytes, PNG);
  });
});
