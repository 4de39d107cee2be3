import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runCli } from '../src/cli/main.ts';

// The binary as an operator runs it, on a real data directory: `serve` in real processes (signals, the
// data-dir lock between processes, the printed curl line); the admin commands in this process through
// runCli, the same function the binary calls (a process per command cost most of this file's time).
const BIN = new URL('../bin/aviary.js', import.meta.url).pathname;
const env = { ...process.env, AVIARY_LOG_LEVEL: 'warn', PORT: '0' };

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { env, stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

function run(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function startServe(dir: string): Promise<{ stop: (signal?: NodeJS.Signals) => Promise<number | null>; output: () => string; url: Promise<string> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--data-dir', dir, '--log-level', 'info'], { env });
  let out = '';
  let resolveUrl: (u: string) => void;
  const url = new Promise<string>((r) => (resolveUrl = r));
  const onData = (d: Buffer) => {
    out += d.toString();
    const m = /"url":"(http:[^"]+)"/.exec(out);
    if (m) resolveUrl(m[1]);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return Promise.resolve({
    url,
    output: () => out,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  });
}

describe('aviary CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aviary-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  let workspacesOf: { orgId: string; wsId: string } | undefined;
  test('serve bootstraps, prints a working curl line, refuses a second process, stops cleanly on SIGTERM', async () => {
    const server = await startServe(dir);
    const url = await server.url;
    // Wait for the welcome text (printed after listening).
    for (let i = 0; i < 50 && !server.output().includes('curl -sS'); i++) await new Promise((r) => setTimeout(r, 100));
    const out = server.output();
    const key = /access key\s+(avk_\S+)/.exec(out)?.[1];
    assert.ok(key, out);
    const curlUrl = /curl -sS -X POST '([^']+)'/.exec(out)![1];
    assert.ok(curlUrl.startsWith(url));
    const res = await fetch(curlUrl, {
      method: 'POST',
      headers: { authorization: `AccessKey ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'text', text: { text: 'Hello from Aviary' } } }),
    });
    assert.equal(res.status, 202);
    // Bird clients ask for the organization id as well as the workspace id: both are printed, and
    // the organization's workspace list answers with the printed key.
    const orgId = /organization\s+([0-9a-f-]{36})/.exec(out)?.[1];
    const wsId = /workspace\s+([0-9a-f-]{36})/.exec(out)?.[1];
    assert.ok(orgId && wsId, out);
    const list = await fetch(`${url}/organizations/${orgId}/workspaces`, { headers: { authorization: `AccessKey ${key}` } });
    assert.equal(list.status, 200);
    assert.deepEqual(((await list.json()) as { results: { id: string; organizationId: string }[] }).results.map((w) => [w.id, w.organizationId]), [[wsId, orgId]]);
    workspacesOf = { orgId, wsId };

    const second = run(['serve', '--data-dir', dir]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`in use by process \\d+`));

    assert.equal(await server.stop('SIGTERM'), 0);
    assert.match(server.output(), /stopped cleanly/);
  });

  test('operator commands: workspaces, keys, channels', async () => {
    const ws = await cli(['workspaces', 'create', 'Marketing', '--data-dir', dir]);
    assert.equal(ws.code, 0, ws.stderr);
    const wsId = JSON.parse(ws.stdout).id;
    const listed0 = (await cli(['workspaces', 'list', '--data-dir', dir])).stdout;
    assert.match(listed0, /Marketing/);
    // The organization id is shown beside each workspace id.
    if (workspacesOf) assert.match(listed0, new RegExp(`${workspacesOf.wsId}\\s+${workspacesOf.orgId}\\s+Default`));
    assert.match(listed0, new RegExp(`${wsId}\\s+[0-9a-f-]{36}\\s+Marketing`));

    const key = await cli(['keys', 'create', '--workspace', wsId, '--name', 'ci', '--data-dir', dir]);
    assert.equal(key.code, 0, key.stderr);
    const plain = key.stdout.trim();
    assert.match(plain, /^avk_[A-Za-z0-9_-]{43}$/);
    const listed = (await cli(['keys', 'list', '--data-dir', dir])).stdout;
    assert.ok(listed.includes(plain.slice(0, 10)));
    assert.ok(!listed.includes(plain), 'keys are never shown again');
    assert.equal((await cli(['keys', 'revoke', plain, '--data-dir', dir])).code, 0);
    assert.equal((await cli(['keys', 'revoke', plain, '--data-dir', dir])).code, 1);

    const ch = await cli(['channels', 'create', '--workspace', wsId, '--platform', 'email', '--name', 'Mail', '--connector', 'smtp', '--config', '{"host":"smtp.example.com","port":25,"tls":"none","from":{"address":"a@example.com"},"auth":{"user":"u","password":"123:abc"}}', '--data-dir', dir]);
    assert.equal(ch.code, 0, ch.stderr);
    assert.equal(JSON.parse(ch.stdout).connector.config.auth.password, '********');
    assert.match((await cli(['channels', 'list', '--workspace', wsId, '--data-dir', dir])).stdout, /email\s+Mail\s+active\s+smtp/);

    const bad = await cli(['channels', 'create', '--workspace', wsId, '--platform', 'pigeon', '--name', 'x', '--data-dir', dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--platform must be one of/);
    assert.equal((await cli(['frobnicate', '--data-dir', dir])).code, 2);
    assert.match((await cli(['help'])).stdout, /AVIARY_DATA_DIR/);
  });
});
