import { FAIL_REFERENCE, KNOWN_RECEIVERS, smsBody, type BodyOptions } from './bodies.ts';
import { startServer, type ServerChild } from './child.ts';
import { coresBetween, machineCoresBetween, snapshot, waitForQuiet } from './cpu.ts';
import { runAutocannon, runPaced, type LoadResult, type LoadSpec } from './load.ts';
import { createBenchDatabase, diffCounters, dropBenchDatabase, pgCounters, postgresPids, withAdmin } from './pg.ts';
import { sleep, target, type CpuBreakdown, type ScenarioResult } from './scenario.ts';
import { describeExperiment, type Experiment } from './experiment.ts';
import type { ServeMode } from './serve-for-bench.ts';

// POST /workspaces/{ws}/channels/{sms}/messages: a text SMS per request (bench/bodies.ts). Every
// scenario starts a fresh server (and a fresh PostgreSQL database), creates the contacts of
// KNOWN_RECEIVERS receivers (as the writer would, without messages), warms up over HTTP on them,
// then measures with NEW_EVERY-th message to a brand-new receiver: 90% contact reuse (cache hit), 10%
// contact creation, the same mix however long the run.

export const NEW_EVERY = 10;
const WARMUP: BodyOptions = { tag: 'w', newEvery: 0 };
const MAIN: BodyOptions = { tag: 'm', newEvery: NEW_EVERY };
/** Failing sends of the failure scenarios: reference bench-fail-<i>, which the injected writer makes fail. */
const FAILING: BodyOptions = { tag: FAIL_REFERENCE.slice('bench-'.length, -1), newEvery: NEW_EVERY };
/** 1 send in FAIL_EVERY fails in the write transaction (6.25%: the issue's 100/s among 1,600/s). */
export const FAIL_EVERY = 16;

export interface PostOptions {
  duration: number;
  warmup: number;
  connections: number;
  pipelining: number;
  rate: number;
  /** Paced rate of the failing-writes scenarios (the issue's 1,500 valid + 100 failing per second). */
  failRate: number;
  pgPoolSize?: number;
  profileDir?: string;
  /** Subset of scenario keys to run; all when empty. */
  scenarios: string[];
  /** Also run the diagnostic scenarios (writer without HTTP, experiments). */
  diagnose: boolean;
  /** PostgreSQL is not reachable: run the rest. */
  skipPostgres?: boolean;
  log: (line: string) => void;
}

type LoadKind = { kind: 'max' } | { kind: 'rate'; rate: number } | { kind: 'paced'; rate: number };

interface HttpScenario {
  key: string;
  name: string;
  mode: ServeMode;
  load: LoadKind;
  path: 'hello-get' | 'hello-post' | 'messages';
  /** api only: no dispatcher in the process (Aviary's default is api + worker). */
  apiOnly?: boolean;
  experiment?: Experiment;
  /** Overrides --connections. */
  connections?: number;
  /** Diagnostic scenario: only with --diagnose or when named in --scenarios. */
  diag?: boolean;
  /**
   * Server built with bench-only failure injection (serve-for-bench.ts injectFailures); every
   * `failEvery`-th send is marked to fail inside the shared write transaction (0: none, the clean
   * run on the same build).
   */
  failures?: { failEvery: number };
}

export function postScenarios(rate: number, failRate: number): HttpScenario[] {
  return [
    { key: 'hello-get', name: 'hello-world GET', mode: 'hello', load: { kind: 'max' }, path: 'hello-get' },
    { key: 'hello-post', name: 'hello-world POST (same body)', mode: 'hello', load: { kind: 'max' }, path: 'hello-post' },
    { key: 'nowrite', name: 'POST /messages, write stubbed (api only)', mode: 'nowrite', load: { kind: 'max' }, path: 'messages', apiOnly: true },
    { key: 'pglite', name: 'POST /messages max', mode: 'pglite', load: { kind: 'max' }, path: 'messages' },
    { key: 'pglite-api', name: 'POST /messages max (api only)', mode: 'pglite', load: { kind: 'max' }, path: 'messages', apiOnly: true },
    // In-memory PGlite promises no durability anyway: does it pay for commit flushes?
    { key: 'pglite-api-async', name: 'POST /messages max (api only), experiment', mode: 'pglite', load: { kind: 'max' }, path: 'messages', apiOnly: true, experiment: { sessionSql: ['set synchronous_commit = off'] }, diag: true },
    { key: 'postgres', name: 'POST /messages max', mode: 'postgres', load: { kind: 'max' }, path: 'messages' },
    { key: 'postgres-api', name: 'POST /messages max (api only)', mode: 'postgres', load: { kind: 'max' }, path: 'messages', apiOnly: true },
    // Is the writer's "two batches in flight" (src/context.ts) right? The same with one.
    { key: 'postgres-api-1', name: 'POST /messages max (api only), experiment', mode: 'postgres', load: { kind: 'max' }, path: 'messages', apiOnly: true, experiment: { maxConcurrent: 1 }, diag: true },
    // Larger batches with more clients in flight.
    { key: 'postgres-api-c200', name: 'POST /messages max (api only), 200 connections', mode: 'postgres', load: { kind: 'max' }, path: 'messages', apiOnly: true, connections: 200, diag: true },
    { key: 'postgres-rate', name: `POST /messages @${rate}/s (overallRate)`, mode: 'postgres', load: { kind: 'rate', rate }, path: 'messages' },
    { key: 'postgres-paced', name: `POST /messages @${rate}/s (paced)`, mode: 'postgres', load: { kind: 'paced', rate }, path: 'messages' },
    // One failing send must not slow the ones batched with it (issue 8, defect 3): the same server
    // build and paced load, without and with 6.25% of sends failing inside the write transaction.
    { key: 'postgres-fail-clean', name: `POST /messages @${failRate}/s (paced), failure-injecting writer, no failures`, mode: 'postgres', load: { kind: 'paced', rate: failRate }, path: 'messages', failures: { failEvery: 0 } },
    { key: 'postgres-fail', name: `POST /messages @${failRate}/s (paced), ${(100 / FAIL_EVERY).toFixed(2)}% failing writes`, mode: 'postgres', load: { kind: 'paced', rate: failRate }, path: 'messages', failures: { failEvery: FAIL_EVERY } },
    { key: 'pglite-fail-clean', name: `POST /messages @${failRate}/s (paced), failure-injecting writer, no failures`, mode: 'pglite', load: { kind: 'paced', rate: failRate }, path: 'messages', failures: { failEvery: 0 }, diag: true },
    { key: 'pglite-fail', name: `POST /messages @${failRate}/s (paced), ${(100 / FAIL_EVERY).toFixed(2)}% failing writes`, mode: 'pglite', load: { kind: 'paced', rate: failRate }, path: 'messages', failures: { failEvery: FAIL_EVERY }, diag: true },
    { key: 'postgres-api-paced', name: `POST /messages @${rate}/s (paced, api only)`, mode: 'postgres', load: { kind: 'paced', rate }, path: 'messages', apiOnly: true, diag: true },
  ];
}

export const WRITER_SCENARIOS = ['pglite-writer', 'postgres-writer'];

const failing = (s: HttpScenario, bodyOptions: BodyOptions, i: number) => bodyOptions === MAIN && !!s.failures?.failEvery && i % s.failures.failEvery === s.failures.failEvery - 1;

function specFor(s: HttpScenario, server: ServerChild, bodyOptions: BodyOptions): LoadSpec {
  const info = server.info;
  const body = (i: number) => JSON.stringify(smsBody(i, failing(s, bodyOptions, i) ? FAILING : bodyOptions));
  if (s.path === 'hello-get') return { url: info.url, method: 'GET', path: '/hello' };
  if (s.path === 'hello-post') return { url: info.url, method: 'POST', path: '/hello', body };
  return {
    url: info.url,
    method: 'POST',
    path: `/workspaces/${info.workspaceId}/channels/${info.channels!.sms}/messages`,
    headers: { authorization: `AccessKey ${info.key}` },
    body,
    ...(s.failures ? { group: (i: number) => (failing(s, bodyOptions, i) ? 'failing' : 'valid') } : {}),
  };
}

/** Creates (and caches in the server) the contacts of the known receivers. */
async function seedContacts(server: ServerChild): Promise<void> {
  const n = await server.seedContacts();
  if (n !== KNOWN_RECEIVERS) throw new Error(`seeding contacts: ${n} of ${KNOWN_RECEIVERS}`);
}

/** Waits for the other tenants of the machine to go quiet; notes it when they did not. */
export async function quiet(result: ScenarioResult): Promise<void> {
  const q = await waitForQuiet();
  if (q.busy >= 0.3) result.notes.push(`machine was ${q.busy.toFixed(2)} cores busy with other work when this run started`);
}

function cpuOf(load: LoadResult, a: ReturnType<typeof snapshot>, b: ReturnType<typeof snapshot>, serverPid: number, pgPids: number[]): CpuBreakdown {
  const machine = machineCoresBetween(a, b);
  const server = coresBetween(a, b, [serverPid]);
  const postgres = pgPids.length ? coresBetween(a, b, pgPids) : undefined;
  const wall = (b.at - a.at) / 1000;
  const loadgen = load.loadgenCpuSec / wall;
  return { machine, server, postgres, loadgen, other: machine - server - (postgres ?? 0) - loadgen };
}

async function runHttpScenario(s: HttpScenario, opts: PostOptions): Promise<ScenarioResult> {
  const o = s.connections ? { ...opts, connections: s.connections } : opts;
  const settings =
    s.load.kind === 'paced' ? `paced open loop, ≤${o.connections} sockets` : `c=${o.connections} p=${o.pipelining}${s.load.kind === 'rate' ? ` overallRate=${s.load.rate}` : ''}`;
  const result: ScenarioResult = { group: 'post', name: s.name, store: s.mode, settings, targets: [], notes: [] };
  if (s.experiment) result.name = `${s.name}: ${describeExperiment(s.experiment)}`;
  if (s.experiment) result.notes.push(`experiment (server patched in memory, src/ unchanged): ${describeExperiment(s.experiment)}`);
  const db = s.mode === 'postgres' ? await createBenchDatabase('post') : undefined;
  let server: ServerChild | undefined;
  let pg0;
  try {
    server = await startServer(
      { mode: s.mode, databaseUrl: db?.url, pgPoolSize: o.pgPoolSize, ...(s.apiOnly ? { roles: ['api'] } : {}), experiment: s.experiment, injectFailures: !!s.failures },
      o.profileDir ? { dir: o.profileDir, name: `${s.key}` } : undefined,
    );
    if (db) pg0 = await pgCounters(db.name);
    if (s.path === 'messages' && s.mode !== 'nowrite') await seedContacts(server);
    await quiet(result);
    const warm = await runAutocannon(specFor(s, server, WARMUP), { connections: o.connections, pipelining: o.pipelining, duration: o.warmup });
    result.warmup = { completed: warm.completed, rps: warm.rps, seconds: warm.wallSec };
    await sleep(300);
    const pgPids = db ? await postgresPids(db.name) : [];
    await server.statsBegin();
    const snap0 = snapshot([server.pid, ...pgPids]);
    const spec = specFor(s, server, MAIN);
    let load: LoadResult;
    if (s.load.kind === 'max') {
      // A fixed number of requests (not a duration) so every request sent gets its response and the
      // row count can be checked exactly; sized from the warm-up rate to last about `duration` s.
      const amount = s.mode === 'hello' ? undefined : Math.max(o.connections * 4, Math.round(warm.rps * o.duration));
      load = await runAutocannon(spec, { connections: o.connections, pipelining: o.pipelining, ...(amount ? { amount } : { duration: o.duration }) });
    } else if (s.load.kind === 'rate') {
      load = await runAutocannon(spec, { connections: o.connections, pipelining: o.pipelining, overallRate: s.load.rate, amount: s.load.rate * o.duration });
    } else {
      load = await runPaced(spec, { rate: s.load.rate, seconds: o.duration, maxSockets: o.connections });
    }
    // Backends the pool opened during the run count too.
    const pgPidsAll = db ? [...new Set([...pgPids, ...(await postgresPids(db.name))])] : [];
    const snap1 = snapshot([server.pid, ...pgPidsAll]);
    result.server = await server.statsEnd();
    result.load = load;
    result.cpu = cpuOf(load, snap0, snap1, server.pid, pgPidsAll);
    if (s.path === 'messages') {
      const accepted = load.byStatus['202'] ?? 0;
      const non202 = load.completed - accepted + load.errors + load.timeouts + load.unanswered;
      if (s.failures?.failEvery) {
        const valid = load.groups?.valid;
        const bad = load.groups?.failing;
        const validOk = valid?.byStatus['202'] ?? 0;
        const badAccepted = bad?.byStatus['202'] ?? 0;
        const validNon202 = (valid?.completed ?? 0) - validOk;
        const rows = await server.count('bench-m-');
        const badRows = await server.count(FAIL_REFERENCE);
        const lost = load.errors + load.timeouts + load.unanswered;
        result.check = {
          expected: validOk,
          rows,
          ok: validNon202 === 0 && badAccepted === 0 && lost === 0 && rows === validOk && badRows === 0,
          detail: `${validOk} valid × 202, ${validNon202} valid non-202, ${bad?.completed ?? 0} failing (${badAccepted} × 202, statuses ${JSON.stringify(bad?.byStatus ?? {})}), ${lost} lost, ${rows} valid rows, ${badRows} failing rows`,
        };
        if (valid) result.notes.push(`valid sends: p50 ${valid.p50.toFixed(2)} ms, p99 ${valid.p99.toFixed(2)} ms (from schedule: p50 ${valid.scheduled.p50.toFixed(2)}, p99 ${valid.scheduled.p99.toFixed(2)}); ${(validOk / load.wallSec).toFixed(0)} valid 202/s`);
      } else if (s.mode === 'nowrite') {
        result.check = { expected: accepted, rows: 0, ok: non202 === 0, detail: `${non202} non-202 (rows not written by design)` };
      } else {
        const rows = await server.count('bench-m-');
        const unanswered = load.unanswered ? ` (${load.unanswered} unanswered within the time bound)` : '';
        result.check = { expected: accepted, rows, ok: non202 === 0 && rows === accepted, detail: `${accepted} × 202, ${non202} non-202${unanswered}, ${rows} new rows` };
      }
    } else {
      const non2xx = load.completed - Object.entries(load.byStatus).filter(([k]) => k.startsWith('2')).reduce((a, [, v]) => a + v, 0);
      result.check = { expected: load.completed, rows: 0, ok: non2xx === 0 && load.errors === 0, detail: `${non2xx} non-2xx` };
    }
  } finally {
    if (server) await server.close();
    if (db) {
      if (pg0) {
        // Backends flush their statistics when they exit, so read the counters after the server closed.
        const pg1 = await pgCounters(db.name).catch(() => undefined);
        const messages = await countRows(db.url).catch(() => 0);
        if (pg1) result.pg = { ...diffCounters(pg0, pg1), messages };
      }
      await dropBenchDatabase(db.name);
    }
  }
  return result;
}

async function countRows(url: string): Promise<number> {
  return withAdmin(async (c) => Number((await c.query('select count(*)::int as n from messages')).rows[0].n), url);
}

async function runWriterScenario(key: string, o: PostOptions): Promise<ScenarioResult> {
  const mode: ServeMode = key.startsWith('pglite') ? 'pglite' : 'postgres';
  const concurrency = 200;
  const result: ScenarioResult = {
    group: 'post',
    name: 'group-commit writer only (no HTTP, api only)',
    store: `${mode} (writer only)` as ScenarioResult['store'],
    settings: `${concurrency} submits in flight`,
    targets: [],
    notes: [],
  };
  const db = mode === 'postgres' ? await createBenchDatabase('writer') : undefined;
  let server: ServerChild | undefined;
  try {
    server = await startServer({ mode, databaseUrl: db?.url, pgPoolSize: o.pgPoolSize, roles: ['api'] }, o.profileDir ? { dir: o.profileDir, name: key } : undefined);
    await seedContacts(server);
    await quiet(result);
    await server.writerBench({ seconds: Math.min(2, o.warmup), concurrency, ...WARMUP });
    const pgPids = db ? await postgresPids(db.name) : [];
    await server.statsBegin();
    const snap0 = snapshot([server.pid, ...pgPids]);
    const w = await server.writerBench({ seconds: o.duration, concurrency, tag: 'x', newEvery: NEW_EVERY });
    const pgPidsAll = db ? [...new Set([...pgPids, ...(await postgresPids(db.name))])] : [];
    const snap1 = snapshot([server.pid, ...pgPidsAll]);
    result.server = await server.statsEnd();
    result.writer = w;
    const machine = machineCoresBetween(snap0, snap1);
    const srv = coresBetween(snap0, snap1, [server.pid]);
    const pgc = pgPidsAll.length ? coresBetween(snap0, snap1, pgPidsAll) : undefined;
    result.cpu = { machine, server: srv, postgres: pgc, loadgen: 0, other: machine - srv - (pgc ?? 0) };
    const rows = await server.count('bench-x-');
    result.check = { expected: w.ok, rows, ok: w.failed === 0 && rows === w.ok, detail: `${w.ok} committed, ${w.failed} failed, ${rows} new rows` };
  } finally {
    if (server) await server.close();
    if (db) await dropBenchDatabase(db.name);
  }
  return result;
}

export async function runPostBenchmarks(o: PostOptions): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const want = (k: string, diag: boolean) =>
    !(o.skipPostgres && k.startsWith('postgres')) && (o.scenarios.length === 0 ? !diag || o.diagnose : o.scenarios.includes(k));
  for (const s of postScenarios(o.rate, o.failRate)) {
    if (!want(s.key, !!s.diag)) continue;
    o.log(`post: ${s.name} [${s.mode}] ...`);
    const r = await runHttpScenario(s, o);
    o.log(`  ${r.load!.rps.toFixed(0)} req/s, p50 ${r.load!.p50.toFixed(2)} ms, p99 ${r.load!.p99.toFixed(2)} ms; ${r.check?.detail ?? ''}`);
    results.push(r);
  }
  for (const k of WRITER_SCENARIOS) {
    if (!want(k, true)) continue;
    o.log(`post: writer only [${k}] ...`);
    const r = await runWriterScenario(k, o);
    o.log(`  ${r.writer!.perSec.toFixed(0)} msg/s; ${r.check?.detail ?? ''}`);
    results.push(r);
  }
  addPostTargets(results, o.rate);
  return results;
}

/** The issue's POST targets, attached to the scenarios they judge. */
function addPostTargets(results: ScenarioResult[], rate: number): void {
  const find = (store: string, name: string) => results.find((r) => r.store === store && r.name.startsWith(name));
  const helloPost = find('hello', 'hello-world POST');
  const helloGet = find('hello', 'hello-world GET');
  const baseline = helloPost ?? helloGet;
  const pgMax = results.find((r) => r.store === 'postgres' && r.name === 'POST /messages max');
  if (pgMax?.load && baseline?.load) {
    const accepted = (pgMax.load.byStatus['202'] ?? 0) / pgMax.load.wallSec;
    pgMax.targets.push(target(`≥ 20% of hello-world ${baseline === helloPost ? 'POST' : 'GET'} req/s`, accepted / baseline.load.rps, 0.2, 'min'));
    if (helloGet?.load && baseline !== helloGet) pgMax.notes.push(`vs hello-world GET: ${((100 * accepted) / helloGet.load.rps).toFixed(1)}%`);
  }
  for (const r of results.filter((x) => x.store === 'postgres' && x.name.includes(`@${rate}/s`))) {
    // Paced: judged on latency from the scheduled send time, which counts queueing behind a slow server.
    if (r.load) r.targets.push(target(`p99 < 25 ms at ${rate}/s`, r.load.scheduled?.p99 ?? r.load.p99, 25, 'max'));
  }
  // Failing writes: valid sends' p99 (from schedule) within 2x of the clean run on the same build.
  for (const failRun of results.filter((r) => r.name.includes('% failing writes'))) {
    const clean = results.find((r) => r.store === failRun.store && r.name.includes('failure-injecting writer, no failures'));
    const valid = failRun.load?.groups?.valid;
    if (!clean?.load || !valid) continue;
    const cleanP99 = clean.load.scheduled?.p99 ?? clean.load.p99;
    failRun.notes.push(`clean run on the same build: p50 ${clean.load.p50.toFixed(2)} ms, p99 ${clean.load.p99.toFixed(2)} ms (from schedule: p99 ${cleanP99.toFixed(2)})`);
    failRun.targets.push(target('valid p99 < 2× the clean run', valid.scheduled.p99 / cleanP99, 2, 'max'));
  }
  const pglite = results.find((r) => r.store === 'pglite' && r.name === 'POST /messages max');
  const pgApi = results.find((r) => r.store === 'postgres' && r.name === 'POST /messages max (api only)');
  if (pgApi?.load && baseline?.load) pgApi.targets.push(target(`≥ 20% of hello-world req/s (api only)`, (pgApi.load.byStatus['202'] ?? 0) / pgApi.load.wallSec / baseline.load.rps, 0.2, 'min'));
  const pgliteApi = results.find((r) => r.store === 'pglite' && r.name === 'POST /messages max (api only)');
  if (pgliteApi?.load) pgliteApi.targets.push(target('≥ 5,000 msg/s (api only)', (pgliteApi.load.byStatus['202'] ?? 0) / pgliteApi.load.wallSec, 5000, 'min'));
  if (pglite?.load) pglite.targets.push(target('≥ 5,000 msg/s', (pglite.load.byStatus['202'] ?? 0) / pglite.load.wallSec, 5000, 'min'));
}
