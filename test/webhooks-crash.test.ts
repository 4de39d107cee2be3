import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freshPostgresDatabase, storeKinds } from './support/harness.ts';

// At least once across a crash: a real `aviary serve` process is SIGKILLed while a webhook request is
// in flight (the receiver holds it unanswered); after a restart on the same store, the event arrives
// again with the same request id, timestamp and signature.

const BIN = new URL('../bin/aviary.js', import.meta.url).pathname;

interface Server {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

function serve(store: string[]): Promise<Server> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', ...store, '--port', '0', '--log-level', 'info', '--webhook-timeout-ms', '1000', '--webhook-retry-base-ms', '50', '--rate-limit', 'false'],
    { env: { ...process.env, AVIARY_LOG_LEVEL: 'info' } },
  );
  let out = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(http:[^"]+)"[^\n]*"msg":"aviary listening"|"msg":"aviary listening"[^\n]*"url":"(http:[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] ?? m[2], output: () => out, exited });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`serve exited with ${code}:\n${out}`)));
  });
}

function signature(key: string, timestamp: string, url: string, raw: Buffer): string {
  const digest = createHash('sha256').update(raw).digest();
  return createHmac('sha256', key).update(Buffer.concat([Buffer.from(`${timestamp}\n${url}\n`), digest])).digest('base64');
}

for (const kind of storeKinds()) {
  describe(`webhooks survive a crash (${kind})`, () => {
    const cleanup: (() => Promise<void> | void)[] = [];
    after(async () => {
      for (const c of cleanup.reverse()) await c();
    });

    test('a process killed mid-delivery: the event is delivered after restart', async () => {
      let store: string[];
      if (kind === 'pglite') {
        const dir = mkdtempSync(join(tmpdir(), 'aviary-webhooks-'));
        cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
        store = ['--data-dir', dir];
      } else {
        const pg = await freshPostgresDatabase();
        cleanup.push(() => pg.drop());
        store = ['--database-url', pg.url];
      }

      // The receiver holds every request unanswered until `answering`.
      const got: { headers: http.IncomingHttpHeaders; raw: Buffer; at: number }[] = [];
      let answering = false;
      const receiver = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          got.push({ headers: req.headers, raw: Buffer.concat(chunks), at: Date.now() });
          if (answering) res.end('ok');
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
      cleanup.push(
        () =>
          new Promise<void>((r) => {
            receiver.closeAllConnections();
            receiver.close(() => r());
          }),
      );
      const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const waitFor = async (n: number, timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs;
        while (got.length < n) {
          if (Date.now() > deadline) throw new Error(`expected ${n} webhook requests, got ${got.length}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };

      const first = await serve(store);
      cleanup.push(() => void first.child.kill('SIGKILL'));
      for (let i = 0; i < 50 && !first.output().includes('access key'); i++) await new Promise((r) => setTimeout(r, 100));
      const out = first.output();
      const key = /access key\s+(avk_\S+)/.exec(out)![1];
      const organization = /organization\s+(\S+)/.exec(out)![1];
      const workspace = /workspace\s+(\S+)/.exec(out)![1];
      const smsChannel = /^\s+sms\s+(\S+)$/m.exec(out)![1];
      const api = async (base: string, method: string, path: string, body?: unknown) => {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `AccessKey ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        return { status: res.status, body: (await res.json()) as any };
      };

      const sub = await api(first.url, 'POST', `/organizations/${organization}/workspaces/${workspace}/webhook-subscriptions`, {
        service: 'channels',
        event: 'sms.outbound',
        url: hookUrl,
        signingKey: 'crash-test-key',
        eventFilters: [{ key: 'messageStatus', value: 'accepted' }],
      });
      assert.equal(sub.status, 201, JSON.stringify(sub.body));
      const sent = await api(first.url, 'POST', `/workspaces/${workspace}/channels/${smsChannel}/messages`, {
        receiver: { contacts: [{ identifierValue: '+31612345678' }] },
        body: { type: 'text', text: { text: 'survive this' } },
      });
      assert.equal(sent.status, 202);

      // The request is in flight (received, unanswered): kill the process that sent it.
      await waitFor(1, 10_000);
      first.child.kill('SIGKILL');
      await first.exited;
      answering = true;

      const second = await serve(store);
      cleanup.push(() => void second.child.kill('SIGKILL'));
      // Its lease (2 x the 1 s timeout) runs out, and the restarted worker sends it again.
      await waitFor(2, 15_000);
      const [killed, again] = got;
      assert.equal(again.headers['messagebird-request-id'], killed.headers['messagebird-request-id']);
      assert.equal(again.headers['messagebird-request-timestamp'], killed.headers['messagebird-request-timestamp']);
      assert.deepEqual(again.raw, killed.raw);
      const body = JSON.parse(again.raw.toString());
      assert.equal(body.event, 'sms.outbound');
      assert.equal(body.payload.id, sent.body.id);
      assert.equal(body.payload.status, 'accepted');
      assert.equal(again.headers['messagebird-signature'], signature('crash-test-key', String(again.headers['messagebird-request-timestamp']), hookUrl, again.raw));

      let logs: any;
      for (let i = 0; i < 100; i++) {
        logs = await api(second.url, 'GET', `/workspaces/${workspace}/webhook-subscriptions/${sub.body.id}/logs`);
        if (logs.body.results[0]?.executionStatus === 'succeeded') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(logs.body.results.length, 1);
      assert.equal(logs.body.results[0].requestId, killed.headers['messagebird-request-id']);
      assert.equal(logs.body.results[0].executionStatus, 'succeeded');

      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0);
    });
  });
}
