import { readdirSync } from 'node:fs';
import { sql } from 'kysely';
import { join } from 'node:path';
import { startServer } from './child.ts';
import { machineCoresBetween, processCpuSec, snapshot, waitForQuiet } from './cpu.ts';
import { runAutocannon, type LoadResult } from './load.ts';
import { diffCounters, pgCounters, postgresPids, walBreakdown, type WalShare } from './pg.ts';
import { acceptToSent, countByStatus, drainBacklog, openPipeline, sentTwice, waitForCount, type ChannelKind, type DrainResult, type LatencyResult, type Pipeline } from './pipeline.ts';
import { formatProfile, summarizeProfile } from './profile.ts';
import { smsBody } from './bodies.ts';

// Issue 11's performance figures, on the pipeline harness (bench/pipeline.ts), each the same work
// through the sandbox SMS channel and through SMPP to the SMSC simulator (`aviary smsc`, its own
// process), on a fresh PostgreSQL database per run:
//
//   smpp-pipeline  HTTP POST -> submit_sm -> receipt -> delivered -> sms.outbound webhook (filtered to
//                  delivered) at the loopback receiver; N messages from 50 clients, one `aviary serve`
//                  (api + worker), the SMSC answering at once. msgs/s from the first POST to the last
//                  webhook, CPU ms per message per process. Baseline: the same through the sandbox, and
//                  hello-world POST (bench/hello-world.ts) with the same clients and bodies.
//   smpp-drain     the SMSC answers every submit_sm after 50 ms, window 100 (bound: 2,000/s): a backlog
//                  accepted by an api-only Aviary, then one worker process drains it. Baseline: the same
//                  drain with the SMSC answering at once, and through the sandbox.
//   send-latency   accept -> sent p50/p99 at a paced rate (API and worker in two processes, then one
//                  process with both roles), from each
//                  message's status history (accepted at, sent at); sandbox and SMPP alike.

export interface SmppBenchOptions {
  scenarios: string[];
  messages: number;
  connections: number;
  window: number;
  rate: number;
  seconds: number;
  /** Also the diagnostic runs. */
  diagnose?: boolean;
  /** Aviary processes run under --cpu-prof, summarised after the run. */
  profileDir?: string;
  log: (line: string) => void;
}

interface CpuSplit {
  /** CPU ms per message, by process. */
  aviary: number;
  postgres: number;
  smsc: number;
  receiver: number;
  loadgen: number;
  /** Cores busy machine-wide during the window (of 2), and by the processes above together. */
  machineCores: number;
  oursCores: number;
}

/** Samples CPU of the pipeline's processes (and PostgreSQL's backends and background writers) around a window. */
async function cpuWindow(p: Pipeline): Promise<{ end: (messages: number) => Promise<CpuSplit & { wallSec: number }> }> {
  const pids = () => ({ aviary: p.aviary.map((a) => a.pid), smsc: p.smsc ? [p.smsc.pid] : [], receiver: p.receiver ? [p.receiver.pid] : [] });
  const read = (list: number[]) => new Map(list.map((pid) => [pid, processCpuSec(pid) ?? 0]));
  const pg0 = read(await postgresPids(p.store.name));
  // PostgreSQL backends come and go with Aviary's pools: sampled twice a second, so one that exits
  // mid-run still counts (all but its last half second), and one that started mid-run counts from 0.
  const pgLast = new Map(pg0);
  const samplePg = async () => {
    for (const [pid, sec] of read(await postgresPids(p.store.name))) pgLast.set(pid, sec);
  };
  const sampler = setInterval(() => void samplePg().catch(() => {}), 500);
  const own0 = Object.fromEntries(Object.entries(pids()).map(([k, v]) => [k, read(v)])) as Record<string, Map<number, number>>;
  const load0 = process.cpuUsage();
  const m0 = snapshot([]);
  return {
    end: async (messages) => {
      const m1 = snapshot([]);
      const load = process.cpuUsage(load0);
      clearInterval(sampler);
      await samplePg();
      const since = (before: Map<number, number>, pidList: number[]) => pidList.reduce((s, pid) => s + (processCpuSec(pid) ?? 0) - (before.get(pid) ?? 0), 0);
      const now = pids();
      let postgres = 0;
      for (const [pid, sec] of pgLast) postgres += sec - (pg0.get(pid) ?? 0);
      const sec = {
        aviary: since(own0.aviary, now.aviary),
        smsc: since(own0.smsc, now.smsc),
        receiver: since(own0.receiver, now.receiver),
        postgres,
        loadgen: (load.user + load.system) / 1e6,
      };
      const wallSec = (m1.at - m0.at) / 1000;
      const ms = (s: number) => (s * 1000) / messages;
      return {
        aviary: ms(sec.aviary),
        postgres: ms(sec.postgres),
        smsc: ms(sec.smsc),
        receiver: ms(sec.receiver),
        loadgen: ms(sec.loadgen),
        machineCores: machineCoresBetween(m0, m1),
        oursCores: (sec.aviary + sec.smsc + sec.receiver + sec.postgres + sec.loadgen) / wallSec,
        wallSec,
      };
    },
  };
}

async function quiet(log: (l: string) => void): Promise<number> {
  const q = await waitForQuiet(15_000);
  if (q.busy >= 0.3) log(`  (machine still busy before the run: ${q.busy.toFixed(2)} cores after waiting ${(q.waitedMs / 1000).toFixed(0)} s)`);
  return q.busy;
}

const profileArgs = (o: SmppBenchOptions, name: string) => (o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(o.profileDir, name)}`] : []);

// -------------------------------------------------------------------------------------- smpp-pipeline

export interface EndToEndResult {
  kind: ChannelKind | 'hello-world POST';
  messages: number;
  postRps: number;
  non2xx: number;
  seconds: number;
  perSec: number;
  webhooks: number;
  duplicates: number;
  delivered: number;
  sentTwice: number;
  busyBefore: number;
  cpu: CpuSplit;
  /** WAL bytes per message, and the share of `messages` updates that were HOT (no index touched). */
  walBytesPerMsg?: number;
  /** The run's WAL by record type, per message (pg_walinspect; absent where it is not installed). */
  walKinds?: WalShare[];
  hotPct?: number;
}

/**
 * Updates of the messages table so far, and how many of them were HOT. Backends publish their
 * statistics when a transaction ends at most once a second (and an idle one within 10 s), so this
 * waits until at least `atLeast` updates show and the count holds still for a second.
 */
async function messageUpdates(p: Pipeline, atLeast = 0): Promise<{ upd: number; hot: number }> {
  const read = async () => {
    const r = await sql<{ upd: string; hot: string }>`select n_tup_upd as upd, n_tup_hot_upd as hot from pg_stat_user_tables where relname = 'messages'`.execute(p.store.db.db);
    return { upd: Number(r.rows[0]?.upd ?? 0), hot: Number(r.rows[0]?.hot ?? 0) };
  };
  let last = await read();
  for (const until = Date.now() + 12_000; Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 1_000));
    const now = await read();
    if (now.upd === last.upd && now.upd >= atLeast) return now;
    last = now;
  }
  return last;
}

async function endToEnd(kind: ChannelKind, o: SmppBenchOptions): Promise<EndToEndResult> {
  const p = await openPipeline({ tag: `e2e${kind}`, kind, windowSize: o.window, sandboxReceiptDelayMs: 0, webhookDelivered: true });
  try {
    await p.startAviary([], profileArgs(o, `pipeline-${kind}`));
    const received = async () => (await p.receiver!.stats()).unique;
    // Warm-up: JIT, pools, the bind; its contacts are created like the run's.
    const warm = 1_000;
    await postRun(p, warm, 'warm', o.connections);
    // A receipt lost to the receipt race (BENCHMARKS.md) would stall it: counted from what arrived.
    const warmed = await waitForCount(received, warm, 5_000);
    const busyBefore = await quiet(o.log);
    const upd0 = await messageUpdates(p);
    const wal0 = await pgCounters(p.store.name);
    const cpu = await cpuWindow(p);
    const t0 = Date.now();
    const load = await postRun(p, o.messages, 'run', o.connections);
    const accepted = load.byStatus['202'] ?? 0;
    await waitForCount(received, warmed + accepted);
    const stats = await p.receiver!.stats();
    const split = await cpu.end(accepted);
    const wal1 = await pgCounters(p.store.name);
    const wal = diffCounters(wal0, wal1);
    const walKinds = await walBreakdown(wal0, wal1);
    const upd1 = await messageUpdates(p, upd0.upd + accepted);
    const seconds = (stats.lastAt - t0) / 1000;
    const delivered = await countByStatus(p, 'delivered', 'run');
    if (delivered < accepted) o.log(`  ${accepted - delivered} accepted messages not delivered: ${JSON.stringify(await statusCounts(p))}`);
    return {
      kind,
      messages: accepted,
      postRps: load.rps,
      non2xx: load.completed - accepted + load.errors,
      seconds,
      perSec: Math.min(accepted, stats.unique - warmed) / seconds,
      webhooks: stats.unique - warmed,
      duplicates: stats.total - stats.unique,
      delivered,
      sentTwice: await sentTwice(p),
      busyBefore,
      cpu: split,
      walBytesPerMsg: wal.walBytes / accepted,
      walKinds: walKinds?.map((k) => ({ ...k, records: k.records / accepted, bytes: k.bytes / accepted, fpiBytes: k.fpiBytes / accepted })),
      hotPct: (100 * (upd1.hot - upd0.hot)) / Math.max(1, upd1.upd - upd0.upd),
    };
  } finally {
    await p.close();
  }
}

async function statusCounts(p: Pipeline): Promise<Record<string, number>> {
  const r = await sql<{ status: string; n: number }>`select status, count(*)::int as n from messages group by status`.execute(p.store.db.db);
  return Object.fromEntries(r.rows.map((x) => [x.status, x.n]));
}

function postRun(p: Pipeline, amount: number, tag: string, connections: number): Promise<LoadResult> {
  return runAutocannon(
    { url: p.apiUrl(), method: 'POST', path: p.path, headers: { authorization: `AccessKey ${p.key}` }, body: (i) => JSON.stringify(smsBody(i, { tag, newEvery: 0 })) },
    { connections, pipelining: 1, amount },
  );
}

/** The HTTP ceiling of this box: bare Fastify POST with the same bodies and clients, in its own process. */
async function helloWorld(o: SmppBenchOptions): Promise<EndToEndResult> {
  const server = await startServer({ mode: 'hello' });
  try {
    const spec = { url: server.info.url, method: 'POST' as const, path: '/hello', body: (i: number) => JSON.stringify(smsBody(i, { tag: 'hello', newEvery: 0 })) };
    await runAutocannon(spec, { connections: o.connections, pipelining: 1, amount: 5_000 });
    const busyBefore = await quiet(o.log);
    const c0 = processCpuSec(server.pid) ?? 0;
    const l0 = process.cpuUsage();
    const m0 = snapshot([]);
    const load = await runAutocannon(spec, { connections: o.connections, pipelining: 1, amount: o.messages });
    const m1 = snapshot([]);
    const l = process.cpuUsage(l0);
    const ok = load.byStatus['202'] ?? 0;
    const serverSec = (processCpuSec(server.pid) ?? 0) - c0;
    return {
      kind: 'hello-world POST',
      messages: ok,
      postRps: load.rps,
      non2xx: load.completed - ok + load.errors,
      seconds: load.wallSec,
      perSec: load.rps,
      webhooks: 0,
      duplicates: 0,
      delivered: 0,
      sentTwice: 0,
      busyBefore,
      cpu: {
        aviary: (serverSec * 1000) / ok,
        postgres: 0,
        smsc: 0,
        receiver: 0,
        loadgen: ((l.user + l.system) / 1e3) / ok,
        machineCores: machineCoresBetween(m0, m1),
        oursCores: (serverSec + (l.user + l.system) / 1e6) / ((m1.at - m0.at) / 1000),
      },
    };
  } finally {
    await server.close();
  }
}

function endToEndTable(rows: EndToEndResult[]): string {
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '–');
  const lines = [
    '| run | messages | POST req/s | msgs/s (POST -> delivered webhook) | seconds | CPU ms/msg: Aviary | PostgreSQL | SMSC | receiver | load gen | cores busy (machine / ours) | WAL KB/msg | HOT updates of messages | delivered, webhooks, dup, sent twice, non-2xx |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const c = r.cpu;
    lines.push(
      `| ${r.kind} | ${r.messages} | ${f(r.postRps)} | **${f(r.perSec)}** | ${f(r.seconds, 1)} | ${f(c.aviary, 3)} | ${f(c.postgres, 3)} | ${r.kind === 'smpp' ? f(c.smsc, 3) : '–'} | ${f(c.receiver, 3)} | ${f(c.loadgen, 3)} | ${f(c.machineCores, 2)} / ${f(c.oursCores, 2)} | ${f((r.walBytesPerMsg ?? NaN) / 1024, 1)} | ${r.hotPct === undefined ? '–' : `${f(r.hotPct, 0)}%`} | ${r.kind === 'hello-world POST' ? '–' : `${r.delivered}, ${r.webhooks}, ${r.duplicates}, ${r.sentTwice}, ${r.non2xx}`} |`,
    );
  }
  return lines.join('\n');
}

/** Where each run's WAL went, per message: the record types that wrote the most, with their full-page images. */
function walTable(rows: EndToEndResult[]): string {
  const kinds = [...new Set(rows.flatMap((r) => r.walKinds?.map((k) => k.kind) ?? []))];
  if (!kinds.length) return '\nWAL by record type: pg_walinspect is not available.';
  const f = (n: number | undefined, d: number) => (n === undefined ? '–' : n.toFixed(d));
  const lines = [
    `\nWAL per message by record type (pg_walinspect; the whole server's WAL during the run):\n`,
    `| record type | ${rows.map((r) => `${r.kind}: records | bytes | of it full pages`).join(' | ')} |`,
    `|---|${rows.map(() => '---|---|---|').join('')}`,
  ];
  for (const kind of kinds) {
    const cells = rows.map((r) => {
      const k = r.walKinds?.find((x) => x.kind === kind);
      return `${f(k?.records, 2)} | ${f(k?.bytes, 0)} | ${f(k?.fpiBytes, 0)}`;
    });
    lines.push(`| ${kind} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

// ----------------------------------------------------------------------------------------- smpp-drain

interface DrainRow extends DrainResult {
  label: string;
  cpu: CpuSplit;
}

// --------------------------------------------------------------------------------------- send-latency

// `processes` 2: API and worker apart, woken across processes by NOTIFY; 1: one `aviary serve` with
// both roles (as it runs by default), woken in-process when its own accept commits.
async function latency(kind: ChannelKind, processes: 1 | 2, o: SmppBenchOptions): Promise<LatencyResult & { busyBefore: number; processes: number }> {
  const p = await openPipeline({ tag: `lat${kind}${processes}`, kind, windowSize: o.window, sandboxReceiptDelayMs: 0 });
  try {
    if (processes === 2) {
      await p.startAviary(['--roles', 'api']);
      await p.startAviary(['--roles', 'worker'], profileArgs(o, `latency-${kind}`));
    } else {
      await p.startAviary(['--roles', 'api,worker'], profileArgs(o, `latency-${kind}-one-process`));
    }
    const busyBefore = await quiet(o.log);
    return { ...(await acceptToSent(p, { rate: o.rate, seconds: o.seconds })), busyBefore, processes };
  } finally {
    await p.close();
  }
}

// ----------------------------------------------------------------------------------------------- main

export async function runSmppBenchmarks(o: SmppBenchOptions): Promise<{ text: string; json: Record<string, unknown> }> {
  const out: string[] = [];
  const json: Record<string, unknown> = {};
  const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '–');
  if (o.scenarios.includes('smpp-pipeline')) {
    const rows: EndToEndResult[] = [];
    o.log(`smpp-pipeline: hello-world POST baseline (${o.messages} requests, ${o.connections} clients)`);
    rows.push(await helloWorld(o));
    for (const kind of ['sandbox', 'smpp'] as const) {
      o.log(`smpp-pipeline: ${kind}, ${o.messages} messages, ${o.connections} clients${kind === 'smpp' ? `, window ${o.window}` : ''}`);
      rows.push(await endToEnd(kind, o));
    }
    json.pipeline = rows;
    const [sandbox, smpp] = rows.slice(1);
    out.push(`\n## smpp-pipeline: POST -> delivered webhook, ${o.messages} messages, ${o.connections} clients, PostgreSQL\n`);
    out.push(endToEndTable(rows));
    out.push(walTable(rows.slice(1)));
    out.push(`\nTarget (SMPP not slower than the sandbox run): ${smpp.perSec >= sandbox.perSec ? 'MET' : 'MISSED'} (${f(smpp.perSec, 0)} vs ${f(sandbox.perSec, 0)} msgs/s, ${f((100 * smpp.perSec) / sandbox.perSec, 0)}%)`);
  }
  if (o.scenarios.includes('smpp-drain')) {
    const rows: DrainRow[] = [];
    const runs: Array<[string, ChannelKind, string[], Record<string, unknown>?]> = [
      ['smpp, submit_sm_resp after 50 ms', 'smpp', ['--response-delay-ms', '50']],
      ['smpp, SMSC answering at once (baseline)', 'smpp', []],
      ['sandbox (baseline)', 'sandbox', []],
    ];
    // Diagnostic: receiptSettles 'any' spares dispatch/receipts.ts its per-receipt SELECT of the parts.
    if (o.diagnose) runs.push(['smpp, 50 ms, receiptSettles any (diagnostic)', 'smpp', ['--response-delay-ms', '50'], { receiptSettles: 'any' }]);
    for (const [label, kind, flags, config] of runs) {
      o.log(`smpp-drain: ${label}, backlog ${o.messages}, window ${o.window}`);
      rows.push(await drainWithCpu(label, kind, flags, o, config));
    }
    json.drain = rows;
    out.push(`\n## smpp-drain: ${o.messages} backlog, one worker process, window ${o.window} (bound with 50 ms answers: ${(o.window * 1000) / 50}/s)\n`);
    out.push('| run | accepted (POST req/s) | first claim -> last sent, s | sent/s | -> last delivered, s | delivered/s | CPU ms/msg: Aviary worker + api | PostgreSQL | SMSC | cores busy (machine / ours) | sent twice | not delivered |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      out.push(`| ${r.label} | ${r.accepted} (${f(r.acceptRps, 0)}) | ${f(r.sentSeconds, 2)} | **${f(r.sentPerSec, 0)}** | ${f(r.deliveredSeconds, 2)} | ${f(r.deliveredPerSec, 0)} | ${f(r.cpu.aviary, 3)} | ${f(r.cpu.postgres, 3)} | ${r.kind === 'smpp' ? f(r.cpu.smsc, 3) : '–'} | ${f(r.cpu.machineCores, 2)} / ${f(r.cpu.oursCores, 2)} | ${r.sentTwice} | ${r.notDelivered} |`);
    }
    const slow = rows[0];
    out.push(`\nTarget (drain >= 1,800/s with 50 ms answers): ${slow.sentPerSec >= 1800 ? 'MET' : 'MISSED'} (${f(slow.sentPerSec, 0)}/s sent; ${f(slow.deliveredPerSec, 0)}/s delivered)`);
  }
  if (o.scenarios.includes('send-latency')) {
    const rows: Array<LatencyResult & { busyBefore: number; processes: number }> = [];
    for (const processes of [2, 1] as const) {
      for (const kind of ['sandbox', 'smpp'] as const) {
        o.log(`send-latency: ${kind}, ${processes === 2 ? 'API and worker processes' : 'one process'}, ${o.rate}/s for ${o.seconds} s`);
        rows.push(await latency(kind, processes, o));
      }
    }
    json.latency = rows;
    out.push(`\n## send-latency: accept -> sent at a paced ${o.rate}/s for ${o.seconds} s (PostgreSQL; API and worker processes, then one process with both roles)\n`);
    out.push('| run | achieved/s | messages (not sent) | accept -> sent p50 ms | p90 | p99 | max | accept -> claim p50 / p99 | claim -> sent p50 / p99 | POST p50 / p99 ms | busy before |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      out.push(`| ${r.kind}${r.processes === 1 ? ', one process' : ''} | ${f(r.achieved, 0)} | ${r.messages} (${r.notSent}) | **${f(r.acceptToSentP50)}** | ${f(r.acceptToSentP90)} | **${f(r.acceptToSentP99)}** | ${f(r.acceptToSentMax)} | ${f(r.toClaimP50)} / ${f(r.toClaimP99)} | ${f(r.claimToSentP50)} / ${f(r.claimToSentP99)} | ${f(r.postP50)} / ${f(r.postP99)} | ${f(r.busyBefore, 2)} |`);
    }
    for (const r of rows) out.push(`Target ${r.kind}${r.processes === 1 ? ', one process' : ''} (p50 < 10 ms, p99 < 50 ms): ${r.acceptToSentP50 < 10 && r.acceptToSentP99 < 50 ? 'MET' : 'MISSED'}`);
  }
  if (o.profileDir) {
    for (const dir of safeList(o.profileDir)) {
      for (const file of safeList(join(o.profileDir, dir)).filter((x) => x.endsWith('.cpuprofile'))) {
        out.push(`\n${dir}: ${formatProfile(summarizeProfile(join(o.profileDir, dir, file), 25))}`);
      }
    }
  }
  return { text: out.join('\n'), json };
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

async function drainWithCpu(label: string, kind: ChannelKind, smscFlags: string[], o: SmppBenchOptions, smppConfig?: Record<string, unknown>): Promise<DrainRow> {
  const p = await openPipeline({ tag: `drain${kind}`, kind, smscFlags, windowSize: o.window, sandboxReceiptDelayMs: 0, smppConfig });
  try {
    await p.startAviary(['--roles', 'api']);
    let window: Awaited<ReturnType<typeof cpuWindow>> | undefined;
    let cpu: CpuSplit | undefined;
    const r = await drainBacklog(p, {
      backlog: o.messages,
      workers: 1,
      workerNodeArgs: profileArgs(o, `drain-${kind}-${smscFlags.length ? 'slow' : 'fast'}`),
      beforeWorkers: async () => {
        await quiet(o.log);
      },
      // Sampled once the worker listens: its start-up (loading, compiling) is not the drain's cost.
      workersStarted: async () => {
        window = await cpuWindow(p);
      },
      afterDrain: async () => {
        cpu = await window!.end(o.messages);
      },
    });
    return { ...r, label, cpu: cpu! };
  } finally {
    await p.close();
  }
}
