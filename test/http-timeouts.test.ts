import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { KyselyPlugin } from 'kysely';
import { createLogger, startAviary, type Aviary } from '../src/app.ts';
import { Authenticator } from '../src/auth/authenticate.ts';
import { defaultConfig, type Config } from '../src/config.ts';
import { freshPostgresDatabase, storeKinds } from './support/harness.ts';

// Slow and idle clients against a real server with small timeouts: they are closed on time, /health
// keeps answering meanwhile, connections over the cap are closed at once, slow uploads are aborted
// while fast (or long but steady) ones are not; query strings stay out of the logs; bad keys cost at
// most one lookup each and are limited per client address.

const T = {
  headers: 800,
  request: 1_200,
  keepAlive: 600,
  maxConnections: 50,
  uploadMinRate: 32 * 1024,
  uploadWindow: 1_000,
  authFailures: 5,
};
// How late a timeout may fire on a loaded machine (2 cores shared by several test runs).
const SLACK = 1_500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Probe {
  socket: net.Socket;
  opened: number;
  data: string;
  closed: Promise<number>;
}

/** A raw TCP client; `closed` resolves with the ms from connection to the server closing it. */
function connect(port: number, localAddress = '127.0.0.1'): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const probe = { socket, opened: 0, data: '' } as Probe;
    probe.closed = new Promise((r) => socket.on('close', () => r(Date.now() - probe.opened)));
    socket.on('data', (d) => (probe.data += d.toString('latin1')));
    socket.on('error', () => {});
    socket.once('connect', () => {
      probe.opened = Date.now();
      resolve(probe);
    });
    socket.once('error', reject);
  });
}

function within(p: Promise<number>, ms: number, what: string): Promise<number> {
  return Promise.race([p, sleep(ms).then(() => assert.fail(`${what}: still open after ${ms} ms`))]);
}

/** A request over its own connection (no keep-alive pool), optionally from another loopback address. */
function request(
  port: number,
  o: { method?: string; path: string; headers?: Record<string, string>; body?: string; localAddress?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path, headers: o.headers, localAddress: o.localAddress, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode!, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

for (const kind of storeKinds()) {
  describe(`HTTP timeouts and limits (${kind})`, () => {
    let aviary: Aviary;
    let port: number;
    let key: string;
    let ws: string;
    let sms: string;
    let drop: (() => Promise<void>) | undefined;
    const logs: string[] = [];

    before(async () => {
      const pgdb = kind === 'postgres' ? await freshPostgresDatabase() : undefined;
      drop = pgdb?.drop;
      const config: Config = {
        ...defaultConfig(),
        port: 0,
        memory: !pgdb,
        databaseUrl: pgdb?.url,
        logLevel: 'debug',
        rateLimit: false,
        dispatchPollMs: 200,
        httpHeadersTimeoutMs: T.headers,
        httpRequestTimeoutMs: T.request,
        httpKeepAliveTimeoutMs: T.keepAlive,
        httpMaxConnections: T.maxConnections,
        mediaMaxBytes: 4 * 1024 * 1024,
        mediaUploadMinRate: T.uploadMinRate,
        mediaUploadRateWindowMs: T.uploadWindow,
        authFailureLimit: T.authFailures,
      };
      const destination = new Writable({
        write(chunk, _enc, done) {
          logs.push(chunk.toString());
          done();
        },
      });
      aviary = await startAviary(config, createLogger(config, destination));
      port = (aviary.server.server.address() as net.AddressInfo).port;
      key = aviary.bootstrap!.accessKey;
      ws = aviary.bootstrap!.workspace.id;
      sms = aviary.bootstrap!.channels.find((c) => c.platform === 'sms')!.id;
    });
    after(async () => {
      await aviary.close();
      await drop?.();
    });

    const auth = () => ({ authorization: `AccessKey ${key}` });
    const connections = () => new Promise<number>((r, j) => aviary.server.server.getConnections((e, n) => (e ? j(e) : r(n))));
    const settle = async () => {
      // Earlier tests' sockets are closed by the server's own timeouts.
      const until = Date.now() + T.request + SLACK * 2;
      while ((await connections()) > 0 && Date.now() < until) await sleep(50);
      assert.equal(await connections(), 0, 'no connections left over');
    };

    test('an idle kept-alive connection is closed after the keep-alive timeout', async () => {
      const c = await connect(port);
      c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      while (!c.data.includes('"status":"ok"')) await sleep(10);
      const answered = Date.now();
      // Node keeps it a second longer than asked (HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER) against races with clients.
      await within(c.closed, T.keepAlive + 1_000 + SLACK, 'idle keep-alive');
      const idle = Date.now() - answered;
      assert.ok(idle >= T.keepAlive - 100, `closed after ${idle} ms, before the keep-alive timeout`);
    });

    test('slow clients are closed on time while /health keeps answering', async () => {
      await settle();
      // Connected and silent; a request line and headers trickled a byte at a time; a body trickled.
      const silent = await Promise.all(Array.from({ length: 10 }, () => connect(port)));
      const slowHeaders = await Promise.all(Array.from({ length: 10 }, () => connect(port)));
      const slowBodies = await Promise.all(Array.from({ length: 10 }, () => connect(port)));
      // Answered 401 before its body: the rest of the body may not be trickled for ever either.
      const refused = await Promise.all(Array.from({ length: 3 }, () => connect(port, '127.0.0.6')));
      const head = 'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ';
      for (const c of slowHeaders) c.socket.write(head);
      const body = JSON.stringify({ receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'text', text: { text: 'x'.repeat(500) } } });
      for (const c of slowBodies) {
        c.socket.write(
          `POST /workspaces/${ws}/channels/${sms}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: AccessKey ${key}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
        );
      }
      for (const c of refused) {
        c.socket.write(
          `POST /workspaces/${ws}/channels/${sms}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: AccessKey avk_refused\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
        );
      }
      let sent = 10;
      const trickle = setInterval(() => {
        for (const c of slowHeaders) if (!c.socket.destroyed) c.socket.write('a');
        for (const c of [...slowBodies, ...refused]) if (!c.socket.destroyed) c.socket.write(body.slice(sent, sent + 1));
        sent++;
      }, 100);
      try {
        // While they are held, /health answers promptly, every time.
        const health: number[] = [];
        const held = Date.now() + T.headers - 200;
        while (Date.now() < held) {
          const started = Date.now();
          const res = await request(port, { path: '/health' });
          assert.equal(res.status, 200);
          health.push(Date.now() - started);
          await sleep(50);
        }
        // Held, they would keep /health waiting until they are closed (T.headers): every answer must
        // come well before that. Two answers at least: on a loaded machine (PGlite runs queries on this
        // process's thread, behind the workers' statements) the first one alone has taken ~480 ms of the
        // 600 ms window.
        assert.ok(health.length >= 2 && Math.max(...health) < 500, `slow /health while slow clients were held: ${health.join(', ')} ms`);

        const closed = await Promise.all([
          ...silent.map((c) => within(c.closed, T.headers + SLACK, 'silent connection')),
          ...slowHeaders.map((c) => within(c.closed, T.headers + SLACK, 'slow headers')),
          ...slowBodies.map((c) => within(c.closed, T.request + SLACK, 'slow body')),
          ...refused.map((c) => within(c.closed, T.request + SLACK, 'slow body after a 401')),
        ]);
        for (const c of refused) assert.match(c.data, /^HTTP\/1\.1 401 /);
        const early = closed.filter((ms, i) => ms < (i < 20 ? T.headers : T.request) - 100);
        assert.deepEqual(early, [], 'none is closed before its timeout');
        assert.ok(slowHeaders.every((c) => !/ 200 /.test(c.data)), 'slow headers got no answer but the timeout');
        for (const c of slowBodies) {
          assert.match(c.data, /^HTTP\/1\.1 408 /);
          assert.deepEqual(JSON.parse(c.data.slice(c.data.indexOf('\r\n\r\n') + 4)), { code: 'RequestTimeout', message: 'The request was not received in time' });
        }
      } finally {
        clearInterval(trickle);
      }
      // Nothing was accepted from the slow bodies.
      const listed = await request(port, { path: `/workspaces/${ws}/channels/${sms}/messages`, headers: auth() });
      assert.equal(listed.body.results.length, 0);
    });

    test('connections over the cap are closed at once; /health answers again as soon as they are released', async () => {
      await settle();
      const idle = await Promise.all(Array.from({ length: T.maxConnections }, () => connect(port)));
      const filled = Date.now();
      while ((await connections()) < T.maxConnections) await sleep(5);
      const extra = await connect(port);
      const refusedIn = await within(extra.closed, 300, 'connection over the cap');
      assert.equal(extra.data, '', 'closed without an answer');
      await assert.rejects(request(port, { path: '/health' }), 'a request over the cap fails (and does not hang)');
      assert.ok(Date.now() - filled < T.headers, 'the cap, not the header timeout, closed them');
      assert.ok(refusedIn < 300);
      for (const c of idle) c.socket.destroy();
      while ((await connections()) > 0) await sleep(5);
      const res = await request(port, { path: '/health' });
      assert.equal(res.status, 200);
    });

    const presign = async () => {
      const res = await request(port, {
        method: 'POST',
        path: `/workspaces/${ws}/channel-media/presigned-upload`,
        headers: { ...auth(), 'content-type': 'application/json' },
        body: JSON.stringify({ contentType: 'application/octet-stream' }),
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body as { mediaUrl: string; uploadUrl: string; uploadFormData: Record<string, string> };
    };

    /** Uploads `size` bytes to POST /media in chunks of `chunk` every `everyMs` (0: all at once). */
    const upload = (p: Awaited<ReturnType<typeof presign>>, size: number, chunk: number, everyMs: number, o: { keepAlive?: boolean; waitCloseMs?: number } = {}) =>
      new Promise<{ status: number; body: any; ms: number; closed: boolean }>((resolve, reject) => {
        const boundary = 'aviaryboundary';
        const head =
          Object.entries(p.uploadFormData)
            .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
            .join('') + `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
        const tail = `\r\n--${boundary}--\r\n`;
        const started = Date.now();
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: new URL(p.uploadUrl).pathname,
            // A kept-alive connection: closing it is then the server's decision.
            agent: o.keepAlive ? new http.Agent({ keepAlive: true }) : false,
            headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': Buffer.byteLength(head) + size + Buffer.byteLength(tail) },
          },
          (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => {
              const ms = Date.now() - started;
              // Did the server close the connection (it should after a 408)?
              req.socket?.once('close', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, ms, closed: true }));
              setTimeout(() => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, ms, closed: false }), o.waitCloseMs ?? 500);
            });
          },
        );
        req.on('error', (err) => (stopped ? undefined : reject(err)));
        let stopped = false;
        req.write(head);
        let written = 0;
        const next = () => {
          if (stopped || req.destroyed) return;
          if (written >= size) return req.end(tail);
          const n = Math.min(everyMs === 0 ? size : chunk, size - written);
          written += n;
          req.write(Buffer.alloc(n, 7));
          if (everyMs === 0) next();
          else setTimeout(next, everyMs);
        };
        // A kept-alive client goes on sending the body after an early answer, as HTTP/1.1 requires.
        req.on('response', () => (stopped = !o.keepAlive));
        next();
      });

    test('an upload slower than the byte-rate floor is aborted (408, connection closed) and can be retried', async () => {
      const p = await presign();
      // 1 KiB every 100 ms: 10 KiB/s against a floor of 32 KiB/s.
      const slow = await upload(p, 1024 * 1024, 1024, 100);
      assert.equal(slow.status, 408);
      assert.equal(slow.body.code, 'RequestTimeout');
      assert.match(slow.body.message, /slower than 32768 bytes per second over 1 s/);
      assert.ok(slow.ms >= T.uploadWindow - 100 && slow.ms < T.uploadWindow + SLACK, `aborted after ${slow.ms} ms`);
      assert.ok(slow.closed, 'the connection is closed with the 408');
      const id = p.mediaUrl.split('/').pop();
      const media = await request(port, { path: `/workspaces/${ws}/channel-media/${id}`, headers: auth() });
      assert.equal(media.status, 409, 'nothing was stored');
      // The policy was released: the same upload succeeds when sent quickly.
      const again = await upload(p, 3 * 1024 * 1024, 0, 0);
      assert.equal(again.status, 204, JSON.stringify(again.body));
      const stored = await request(port, { path: `/workspaces/${ws}/channel-media/${id}`, headers: auth() });
      assert.equal(stored.status, 200);
    });

    test('a refused upload, or a body of the wrong type, cannot be trickled to hold the connection', async () => {
      const p = await presign();
      const tampered = { ...p, uploadFormData: { ...p.uploadFormData, 'x-aviary-signature': 'ab'.repeat(32) } };
      // Over a raw connection, kept alive, going on sending after the early answer as HTTP/1.1 allows.
      const boundary = 'b0undary';
      const head =
        Object.entries(tampered.uploadFormData)
          .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
          .join('') + `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n\r\n`;
      const r = await connect(port);
      r.socket.write(`POST /media HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${head.length + 1024 * 1024}\r\n\r\n${head}`);
      const drip = setInterval(() => !r.socket.destroyed && r.socket.write(Buffer.alloc(1024, 7)), 100);
      try {
        await within(r.closed, T.uploadWindow + SLACK, 'a refused upload trickled on');
      } finally {
        clearInterval(drip);
      }
      assert.match(r.data, /^HTTP\/1\.1 403 /, 'refused when the file part starts');
      const c = await connect(port);
      c.socket.write(`POST /media HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\nabc`);
      const trickle = setInterval(() => !c.socket.destroyed && c.socket.write('a'), 100);
      try {
        await within(c.closed, SLACK, 'wrong content type');
      } finally {
        clearInterval(trickle);
      }
      assert.match(c.data, /^HTTP\/1\.1 415 /);
    });

    test('an upload above the floor may take longer than the request timeout', async () => {
      const p = await presign();
      // 16 KiB every 100 ms (160 KiB/s) for about 2 s: longer than the 1.2 s request timeout.
      const steady = await upload(p, 320 * 1024, 16 * 1024, 100);
      assert.equal(steady.status, 204, JSON.stringify(steady.body));
      assert.ok(steady.ms > T.request, `took ${steady.ms} ms`);
    });

    test('query strings are redacted in request logs, and access keys never logged', async () => {
      const secret = 'avk_QUERYSECRET0123456789';
      const before = logs.length;
      const denied = await request(port, { path: `/workspaces/${ws}/messages?access_key=${secret}&limit=5` });
      assert.equal(denied.status, 401);
      const ok = await request(port, { path: `/workspaces/${ws}/messages?limit=5&signature=${secret}&flag`, headers: auth() });
      assert.equal(ok.status, 200);
      await sleep(50);
      const lines = logs.slice(before).map((l) => JSON.parse(l));
      const urls = lines.filter((l) => l.msg === 'request').map((l) => l.url);
      assert.deepEqual(urls, [`/workspaces/${ws}/messages?access_key=[redacted]&limit=[redacted]`, `/workspaces/${ws}/messages?limit=[redacted]&signature=[redacted]&flag`]);
      const all = logs.join('');
      assert.ok(!all.includes(secret), 'the key from the query string is not in the log');
      assert.ok(!all.includes(key), 'the access key is never logged');
      // A request logged whole (as Fastify's own serializer would) keeps neither headers nor query values.
      aviary.ctx.log.info({ req: { method: 'GET', url: `/x?key=${secret}`, headers: { authorization: `AccessKey ${key}` } } }, 'probe');
      aviary.ctx.log.info({ headers: { authorization: `AccessKey ${key}` } }, 'probe');
      assert.ok(!logs.join('').includes(secret) && !logs.join('').includes(key));
    });

    // Counts the statements an Authenticator sends to the store.
    const countingAuthenticator = (failuresPerMinute: number, lookupDelayMs = 0) => {
      const counter = { queries: 0 };
      const plugin: KyselyPlugin = {
        transformQuery: (args) => {
          counter.queries++;
          return args.node;
        },
        // A slow store: lookups stay in flight while concurrent requests arrive.
        transformResult: async (args) => (lookupDelayMs && (await sleep(lookupDelayMs)), args.result),
      };
      return { auth: new Authenticator(aviary.ctx.db.withPlugin(plugin), { failuresPerMinute }), counter };
    };

    test('a flood of bad keys costs at most one lookup per distinct key within the negative-cache time', async (t) => {
      const original = aviary.ctx.auth;
      const { auth: counting, counter } = countingAuthenticator(0);
      aviary.ctx.auth = counting;
      t.after(() => (aviary.ctx.auth = original));
      const bad = Array.from({ length: 10 }, (_, i) => `avk_bad${i}`);
      const path = `/workspaces/${ws}/messages`;
      const flood = await Promise.all(
        Array.from({ length: 100 }, (_, i) => request(port, { path, headers: { authorization: `AccessKey ${bad[i % 10]}` }, localAddress: '127.0.0.4' })),
      );
      assert.ok(flood.every((r) => r.status === 401 && r.body.code === 'Unauthorized'));
      assert.equal(counter.queries, 10, 'one lookup per distinct key');
      for (const k of bad) assert.equal((await request(port, { path, headers: { authorization: `AccessKey ${k}` } })).status, 401);
      assert.equal(counter.queries, 10, 'repeats within the TTL are answered from the negative cache');
      // The good key still works (one lookup for it, one for the workspace).
      assert.equal((await request(port, { path, headers: auth() })).status, 200);
      assert.equal(counter.queries, 12);
    });

    test('failed authentications are limited per client address: 429 with Retry-After, without a lookup', async (t) => {
      const original = aviary.ctx.auth;
      const { auth: counting, counter } = countingAuthenticator(T.authFailures);
      aviary.ctx.auth = counting;
      t.after(() => (aviary.ctx.auth = original));
      const path = `/workspaces/${ws}/messages`;
      const from = (address: string, k: string) => request(port, { path, headers: { authorization: `AccessKey ${k}` }, localAddress: address });
      // The good key, once: it is then known good and exempt from the limit.
      assert.equal((await from('127.0.0.2', key)).status, 200);
      const base = counter.queries;
      const statuses: number[] = [];
      let limited: Awaited<ReturnType<typeof from>> | undefined;
      for (let i = 0; i < 8; i++) {
        const r = await from('127.0.0.2', `avk_guess${i}`);
        statuses.push(r.status);
        if (r.status === 429) limited = r;
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
      assert.equal(counter.queries - base, T.authFailures, 'no lookup once limited');
      assert.deepEqual(Object.keys(limited!.body).sort(), ['code', 'message']);
      assert.equal(limited!.body.code, 'TooManyRequests');
      const retryAfter = Number(limited!.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60 / T.authFailures, `Retry-After ${limited!.headers['retry-after']}`);
      // Concurrent guesses cannot all slip through before the first has failed.
      const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => from('127.0.0.3', `avk_burst${i}`)));
      assert.equal(burst.filter((r) => r.status === 401).length, T.authFailures);
      assert.equal(burst.filter((r) => r.status === 429).length, 20 - T.authFailures);
      // A burst of concurrent first requests with one valid key not yet known good shares one lookup
      // and is one attempt, not a flood: none is refused (this once answered 429 under load).
      const fresh = countingAuthenticator(T.authFailures, 300);
      aviary.ctx.auth = fresh.auth;
      const first = await Promise.all(Array.from({ length: 4 * T.authFailures }, () => from('127.0.0.4', key)));
      assert.deepEqual([...new Set(first.map((r) => r.status))], [200]);
      aviary.ctx.auth = counting;
      // Keys known good still work from a limited address (a proxy's, say); other addresses are unaffected.
      assert.equal((await from('127.0.0.2', key)).status, 200);
      assert.equal((await from('127.0.0.5', 'avk_other')).status, 401);
    });
  });
}
