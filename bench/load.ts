import http from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon, { type AutocannonResult } from 'autocannon';

// Two load generators, both reporting the same LoadResult:
//
// - autocannon (closed loop): `connections` sockets, each with `pipelining` requests outstanding; with
//   `overallRate` each connection sends back to back until it has used its share of the second, then
//   waits for the next second (autocannon's rate limit is a per-second budget, not a pacer).
// - paced (open loop): requests are scheduled at exact intervals (rate/s) over a keep-alive agent.
//   Two latencies are kept: from the moment the request got a socket and was written (what the table
//   shows as p50/p99), and from its *scheduled* time (`scheduled`), which also counts any wait for a
//   free socket, so a server that falls behind cannot hide it (no coordinated omission); the latter
//   also includes the pacer's own timer lateness (up to ~1 ms).
//
// Latencies are recorded here from autocannon's per-response times (sub-millisecond, uncorrected),
// rather than from its histogram, which keeps whole milliseconds and, under overallRate, adds synthetic
// samples.

export interface LoadResult {
  tool: 'autocannon' | 'paced';
  connections: number;
  pipelining: number;
  targetRate?: number;
  completed: number;
  byStatus: Record<string, number>;
  errors: number;
  timeouts: number;
  mismatches: number;
  wallSec: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** Requests sent that got neither a response nor an error before the run's time bound. */
  unanswered: number;
  /** Paced only: latency from the request's scheduled send time (includes any queueing in the client). */
  scheduled?: { p50: number; p99: number; max: number };
  /** Paced only, when the spec has `group`: the same figures per group of requests. */
  groups?: Record<string, GroupResult>;
  loadgenCpuSec: number;
}

export interface GroupResult {
  completed: number;
  byStatus: Record<string, number>;
  p50: number;
  p99: number;
  scheduled: { p50: number; p99: number };
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function summarize(lat: number[]): Pick<LoadResult, 'p50' | 'p90' | 'p99' | 'max' | 'mean'> {
  const s = Float64Array.from(lat).sort();
  let sum = 0;
  for (const v of s) sum += v;
  return { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s.length ? s[s.length - 1] : NaN, mean: sum / s.length };
}

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  /** Fixed path, or one per request (i counts from 0). */
  path: string | ((i: number) => string);
  headers?: Record<string, string>;
  /** Request body per request (JSON text). */
  body?: (i: number) => string;
  /** Paced only: names the group a request belongs to, for per-group latencies (e.g. valid vs failing sends). */
  group?: (i: number) => string;
  /** Called with each response; return false to count a mismatch. */
  verify?: (status: number, body: string) => boolean;
}

export async function runAutocannon(
  spec: LoadSpec,
  o: { connections: number; pipelining: number; duration?: number; amount?: number; overallRate?: number },
): Promise<LoadResult> {
  let i = 0;
  const dynamic = typeof spec.path === 'function' || spec.body !== undefined;
  const latencies: number[] = [];
  const byStatus: Record<string, number> = {};
  let mismatches = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let tLast = t0;
  const request = {
    method: spec.method,
    path: typeof spec.path === 'string' ? spec.path : spec.path(0),
    headers: { ...(spec.headers ?? {}), ...(spec.body ? { 'content-type': 'application/json' } : {}) },
    ...(spec.body ? { body: spec.body(0) } : {}),
    ...(dynamic
      ? {
          setupRequest: (req: { path?: string; body?: string | Buffer }) => {
            const n = i++;
            if (typeof spec.path === 'function') req.path = spec.path(n);
            if (spec.body) req.body = spec.body(n);
            return req;
          },
        }
      : {}),
    ...(spec.verify
      ? {
          onResponse: (status: number, body: string) => {
            if (!spec.verify!(status, body)) mismatches++;
          },
        }
      : {}),
  };
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const inst = autocannon(
      {
        url: spec.url,
        connections: o.connections,
        pipelining: o.pipelining,
        ...(o.amount ? { amount: o.amount } : { duration: o.duration ?? 10 }),
        ...(o.overallRate ? { overallRate: o.overallRate } : {}),
        timeout: 10,
        requests: [request as never],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    inst.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      latencies.push(responseTime);
      byStatus[statusCode] = (byStatus[statusCode] ?? 0) + 1;
      tLast = performance.now();
    });
  });
  const cpu = process.cpuUsage(cpu0);
  const wallSec = (tLast - t0) / 1000;
  return {
    tool: 'autocannon',
    connections: o.connections,
    pipelining: o.pipelining,
    targetRate: o.overallRate,
    completed: latencies.length,
    byStatus,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches,
    unanswered: 0,
    wallSec,
    rps: latencies.length / wallSec,
    ...summarize(latencies),
    loadgenCpuSec: (cpu.user + cpu.system) / 1e6,
  };
}

/** Open-loop generator: `rate` requests/s for `seconds`, at most `maxSockets` connections. */
export async function runPaced(spec: LoadSpec, o: { rate: number; seconds: number; maxSockets: number }): Promise<LoadResult> {
  const target = new URL(spec.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.maxSockets });
  const total = Math.round(o.rate * o.seconds);
  const interval = 1000 / o.rate;
  const latencies: number[] = [];
  const fromSchedule: number[] = [];
  const byStatus: Record<string, number> = {};
  const groups = new Map<string, { latencies: number[]; fromSchedule: number[]; byStatus: Record<string, number> }>();
  let errors = 0;
  let timeouts = 0;
  let mismatches = 0;
  let next = 0;
  let done = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now() + 10;
  let tLast = start;

  await new Promise<void>((resolve) => {
    // Bounded: requests still unanswered 20 s after the last one was due are reported as such.
    const hardStop = setTimeout(resolve, (o.seconds + 20) * 1000);
    const finishOne = () => {
      if (++done === total) {
        clearTimeout(hardStop);
        resolve();
      }
    };
    const fire = (n: number) => {
      const intended = start + n * interval;
      const payload = spec.body?.(n);
      const headers: Record<string, string | number> = { ...(spec.headers ?? {}) };
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      let sentAt = NaN;
      const req = http.request(
        { agent, host: target.hostname, port: target.port, method: spec.method, path: typeof spec.path === 'string' ? spec.path : spec.path(n), headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const t = performance.now();
            tLast = t;
            latencies.push(t - sentAt);
            fromSchedule.push(t - intended);
            const status = res.statusCode ?? 0;
            byStatus[status] = (byStatus[status] ?? 0) + 1;
            if (spec.group) {
              const name = spec.group(n);
              let g = groups.get(name);
              if (!g) groups.set(name, (g = { latencies: [], fromSchedule: [], byStatus: {} }));
              g.latencies.push(t - sentAt);
              g.fromSchedule.push(t - intended);
              g.byStatus[status] = (g.byStatus[status] ?? 0) + 1;
            }
            if (spec.verify && !spec.verify(status, Buffer.concat(chunks).toString('utf8'))) mismatches++;
            finishOne();
          });
        },
      );
      req.on('socket', () => {
        sentAt = performance.now();
      });
      req.setTimeout(10_000, () => {
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.on('error', () => {
        errors++;
        finishOne();
      });
      req.end(payload);
    };
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * interval <= now) fire(next++);
      if (next < total) setTimeout(tick, Math.max(0, Math.min(1, start + next * interval - performance.now())));
    };
    setTimeout(tick, 10);
  });
  agent.destroy();
  const cpu = process.cpuUsage(cpu0);
  const wallSec = (tLast - start) / 1000;
  return {
    tool: 'paced',
    connections: o.maxSockets,
    pipelining: 1,
    targetRate: o.rate,
    completed: latencies.length,
    byStatus,
    errors,
    timeouts,
    mismatches,
    unanswered: total - done,
    wallSec,
    rps: latencies.length / wallSec,
    ...summarize(latencies),
    scheduled: (({ p50, p99, max }) => ({ p50, p99, max }))(summarize(fromSchedule)),
    ...(spec.group
      ? {
          groups: Object.fromEntries(
            [...groups].map(([name, g]) => {
              const l = summarize(g.latencies);
              const f = summarize(g.fromSchedule);
              // Copies: responses that arrive after the time bound must not change the figures afterwards.
              return [name, { completed: g.latencies.length, byStatus: { ...g.byStatus }, p50: l.p50, p99: l.p99, scheduled: { p50: f.p50, p99: f.p99 } }];
            }),
          ),
        }
      : {}),
    loadgenCpuSec: (cpu.user + cpu.system) / 1e6,
  };
}
