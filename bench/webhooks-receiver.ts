// The webhook receiver of bench/webhooks.ts, in its own process: a keep-alive HTTP server on loopback
// that answers 200 to every POST and counts what it got. Two implementations:
//   raw:  a minimal HTTP/1.1 parser on net sockets: as little receiver CPU as possible, so the run
//         measures Aviary rather than the receiver (both share the machine's two cores);
//   node: node's http server, what a typical Node receiver costs.
// With `latency`, it parses each body and records now - payload.lastStatusAt (the status change).
//
//   node --import tsx bench/webhooks-receiver.ts '{"kind":"raw","latency":false}'
// Prints {"port": N} on stdout; answers IPC messages "stats" and "reset".

import http from 'node:http';
import net from 'node:net';

const opts = JSON.parse(process.argv[2] ?? '{}') as { kind?: 'raw' | 'node'; latency?: boolean };
const kind = opts.kind ?? 'raw';

let total = 0;
const ids = new Set<string>();
const latencies: number[] = [];
/** Receipt minus the event's emission (the request id is a UUIDv7 of that moment). */
const pipeline: number[] = [];
/** Receipt minus lastStatusAt, per status. */
const byStatus = new Map<string, number[]>();
const keys = new Set<string>();
let firstAt = 0;
let lastAt = 0;

function received(id: string | undefined, body: Buffer | string | undefined): void {
  const now = Date.now();
  if (total === 0) firstAt = now;
  lastAt = now;
  total++;
  if (id) ids.add(id);
  if (opts.latency && body !== undefined) {
    const e = JSON.parse(body.toString()) as { event: string; payload: { id: string; status?: string; lastStatusAt?: string } };
    if (e.payload.lastStatusAt) {
      const ms = now - Date.parse(e.payload.lastStatusAt);
      latencies.push(ms);
      const list = byStatus.get(e.payload.status ?? '') ?? [];
      list.push(ms);
      byStatus.set(e.payload.status ?? '', list);
    }
    if (id) pipeline.push(now - parseInt(id.replace(/-/g, '').slice(0, 12), 16));
    keys.add(`${e.payload.id}:${e.payload.status}`);
  }
}

const OK = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nkeep-alive: timeout=60\r\n\r\nok');
const ID_HEADER = 'messagebird-request-id:';

function rawServer(): net.Server {
  return net.createServer((socket) => {
    socket.setNoDelay(true);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let answers = 0;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = buf.toString('latin1', 0, end);
        const lower = head.toLowerCase();
        const m = /content-length:\s*(\d+)/.exec(lower);
        const length = m ? Number(m[1]) : 0;
        if (buf.length < end + 4 + length) break;
        const at = lower.indexOf(ID_HEADER);
        const id = at >= 0 ? head.slice(at + ID_HEADER.length, head.indexOf('\r\n', at)).trim() : undefined;
        received(id, opts.latency ? buf.subarray(end + 4, end + 4 + length) : undefined);
        buf = buf.subarray(end + 4 + length);
        answers++;
      }
      if (answers === 1) socket.write(OK);
      else if (answers > 1) socket.write(Buffer.concat(Array.from({ length: answers }, () => OK)));
    });
    socket.on('error', () => {});
  });
}

function nodeServer(): http.Server {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received(req.headers['messagebird-request-id'] as string | undefined, opts.latency ? Buffer.concat(chunks) : undefined);
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  return server;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const server = kind === 'raw' ? rawServer() : nodeServer();
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as net.AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.send?.({ port });
});

process.on('message', (msg: string) => {
  if (msg === 'stats') {
    const sorted = [...latencies].sort((a, b) => a - b);
    const sortedPipeline = [...pipeline].sort((a, b) => a - b);
    process.send?.({
      total,
      unique: ids.size,
      keys: keys.size,
      firstAt,
      lastAt,
      latency: opts.latency
        ? { n: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN }
        : undefined,
      byStatus: opts.latency
        ? Object.fromEntries([...byStatus].map(([k, v]) => {
            const a = [...v].sort((x, y) => x - y);
            return [k, { n: a.length, p50: percentile(a, 50), p99: percentile(a, 99) }];
          }))
        : undefined,
      pipeline: opts.latency
        ? { n: sortedPipeline.length, p50: percentile(sortedPipeline, 50), p90: percentile(sortedPipeline, 90), p99: percentile(sortedPipeline, 99), max: sortedPipeline[sortedPipeline.length - 1] ?? NaN }
        : undefined,
    });
  } else if (msg === 'reset') {
    total = 0;
    ids.clear();
    latencies.length = 0;
    pipeline.length = 0;
    byStatus.clear();
    keys.clear();
    process.send?.({ reset: true });
  }
});
process.on('disconnect', () => process.exit(0));
