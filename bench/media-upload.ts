// Upload throughput and server memory for one large presigned upload (local storage).
//
//   npx tsx bench/media-upload.ts [--mib 50] [--runs 3] [--bare]
//
// --bare sends the same request to a bare node:http server that drops the body: the baseline a
// Node server's memory moves by when a large request streams through it.
// Starts bench/media-serve.ts in its own process, presigns an upload, and POSTs a file of --mib MiB
// as the seed's curl does (the fields of uploadFormData, then `file`), streamed from disk by this
// process. While it uploads, the server's resident memory (VmRSS in /proc/<pid>/status) is sampled
// every 10 ms, and the kernel's own peak mark (VmHWM, reset before each run) is read after it; "growth" is the peak minus the server's RSS when idle just before the upload (after
// one small warm-up upload, so first-use code and buffers are not counted). Prints a Markdown table.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const MIB = 1024 * 1024;
const size = arg('mib', 50) * MIB;
const runs = arg('runs', 3);
const bare = process.argv.includes('--bare');

const dir = await mkdtemp(join(tmpdir(), 'aviary-media-bench-'));
const file = join(dir, 'upload.bin');
{
  const fh = await open(file, 'w');
  const chunk = Buffer.alloc(MIB);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131) & 255;
  for (let written = 0; written < size; written += MIB) await fh.write(chunk, 0, Math.min(MIB, size - written));
  await fh.close();
}

const server = spawn(process.execPath, [...(process.env.MEDIA_BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.MEDIA_BENCH_PROF] : []), '--import', 'tsx', new URL('./media-serve.ts', import.meta.url).pathname], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, ...(bare ? { MEDIA_BENCH_BARE: '1' } : {}), MEDIA_BENCH_DIR: join(dir, 'media'), AVIARY_MEDIA_MAX_BYTES: String(Math.max(size, 100 * MIB)) },
});
const [line] = (await once(createInterface({ input: server.stdout! }), 'line')) as [string];
const info = JSON.parse(line) as { url: string; key: string; workspaceId: string; pid: number };

const status = () => readFileSync(`/proc/${info.pid}/status`, 'utf8');
const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(status())![1]);
const hwmKiB = () => Number(/VmHWM:\s+(\d+)/.exec(status())![1]);
/** Resets the kernel's peak-RSS mark (VmHWM) of the server to its current RSS, where allowed. */
const resetPeak = () => {
  try {
    writeFileSync(`/proc/${info.pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
};

async function presign(): Promise<{ uploadUrl: string; uploadFormData: Record<string, string> }> {
  if (bare) return { uploadUrl: `${info.url}/media`, uploadFormData: { 'Content-Type': 'video/mp4', key: 'k', policy: 'p', 'x-aviary-signature': 's' } };
  const res = await fetch(`${info.url}/workspaces/${info.workspaceId}/channel-media/presigned-upload`, {
    method: 'POST',
    headers: { authorization: `AccessKey ${info.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ contentType: 'video/mp4' }),
  });
  if (res.status !== 200) throw new Error(`presign: ${res.status} ${await res.text()}`);
  return (await res.json()) as { uploadUrl: string; uploadFormData: Record<string, string> };
}

/** A multipart POST like curl's -F: fields, then the file streamed from disk. */
async function upload(bytes: number, path?: string): Promise<number> {
  const p = await presign();
  const boundary = `----aviarybench${Date.now()}`;
  let head = '';
  for (const [k, v] of Object.entries(p.uploadFormData)) head += `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
  head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const length = Buffer.byteLength(head) + bytes + Buffer.byteLength(tail);
  const req = request(p.uploadUrl, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': length } });
  const done = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
  req.write(head);
  if (path) {
    const src = createReadStream(path, { highWaterMark: 256 * 1024 });
    src.pipe(req, { end: false });
    await once(src, 'end');
  } else req.write(Buffer.alloc(bytes, 1));
  req.end(tail);
  return done;
}

const results: { seconds: number; idleMiB: number; peakMiB: number }[] = [];
try {
  for (let i = 0; i < 3; i++) if ((await upload(64 * 1024)) !== 204) throw new Error('warm-up upload failed');
  await new Promise((r) => setTimeout(r, 500));
  for (let r = 0; r < runs; r++) {
    const kernelPeak = resetPeak();
    const idle = rssKiB();
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB())), 10);
    const started = process.hrtime.bigint();
    const answer = await upload(size, file);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    clearInterval(sampler);
    peak = Math.max(peak, rssKiB(), kernelPeak ? hwmKiB() : 0);
    if (answer !== 204) throw new Error(`upload answered ${answer}`);
    results.push({ seconds, idleMiB: idle / 1024, peakMiB: peak / 1024 });
    await new Promise((res) => setTimeout(res, 300));
  }
} finally {
  server.kill('SIGTERM');
  await once(server, 'exit');
  await rm(dir, { recursive: true, force: true });
}

const mib = size / MIB;
console.log(`\n${mib} MiB ${bare ? 'POST to a bare node:http server that drops the body (baseline)' : 'presigned upload to local storage'}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| run | time (s) | throughput (MiB/s) | server RSS idle (MiB) | server RSS peak (MiB) | growth (MiB) |');
console.log('|---|---|---|---|---|---|');
results.forEach((r, i) =>
  console.log(`| ${i + 1} | ${r.seconds.toFixed(2)} | ${(mib / r.seconds).toFixed(0)} | ${r.idleMiB.toFixed(1)} | ${r.peakMiB.toFixed(1)} | ${(r.peakMiB - r.idleMiB).toFixed(1)} |`),
);
