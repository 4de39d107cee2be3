// Aviary benchmarks. `npm run bench -- [options]`
//
//   --only post|list|contacts|email-out|email-in  run these groups, comma-separated (default: post,list)
//          smpp-pipeline|smpp-drain|send-latency  issue 11's pipeline figures (bench/smpp.ts), sandbox
//                          beside SMPP to the SMSC simulator; each ~1-2 min
//   --messages N           messages per smpp-pipeline / smpp-drain run (default 20000)
//   --window N             SMPP channel windowSize in those runs (default 100)
//   --seconds N            length of the send-latency paced run (default 10; its rate: --rate, default 500)
//   --emails N / --smtp-pool N  email-out/email-in: mails per run, SMTP connections (bench/email.ts)
//   --diagnose             also run the diagnostic scenarios: the group-commit writer without HTTP,
//                          in-memory experiments on the server (bench/experiment.ts), 200 clients,
//                          2000/s paced with the API alone, and the tag filters again after adding a
//                          GIN index on messages.tags (in the throwaway database only)
//   --duration N           seconds per measured run (default 5 for POST, 4 for list runs)
//   --warmup N             seconds of warm-up before each POST run (default 2)
//   --connections N        autocannon connections / paced max sockets (default 50 POST, 10 list)
//   --pipelining N         autocannon pipelining for POST runs (default 1)
//   --rate N               fixed POST rate for the p99 target (default 2000)
//   --fail-rate N          paced POST rate of the failing-writes scenarios (default 1600)
//   --list-rate N          paced GET rate for the list p99 (default 200)
//   --rows N               messages (or contacts) bulk-loaded for the list runs (default 1000000)
//   --scenarios a,b        only these scenario keys. post: hello-get hello-post nowrite pglite
//                          pglite-api postgres postgres-api postgres-rate postgres-paced
//                          postgres-fail-clean postgres-fail; diagnostic: pglite-fail-clean pglite-fail
//                          pglite-api-async postgres-api-1 postgres-api-c200 postgres-api-paced
//                          pglite-writer postgres-writer. list: first deep channel tag-otp tag-vip.
//                          contacts: contacts-first contacts-deep list-first list-deep
//   --pool N               AVIARY pgPoolSize for PostgreSQL runs (default: Aviary's default)
//   --profile              record a V8 CPU profile of the server during each measured run
//                          (bench/.profiles/) and print where its time went
//   --json FILE            write all results as JSON (default bench/results/<group>-<time>.json and
//                          bench/results/latest.json); bench/summarize.ts combines several runs
//   --max-seconds N        abort (and clean up) after N seconds (default 300; 540 with --diagnose)
//   --quiet-budget N       seconds in all that runs may wait for other work on the machine to stop
//                          before starting (default 30); a run that starts on a busy machine says so
//
// Durations on a 2-core machine: --only post about 2 min, --only list about 1.5 min (1M rows loaded
// in ~10 s), both about 3.5 min; --diagnose adds about 1.5 min. --only contacts about 1.5 min.
//
// The server under test runs in a child process (bench/serve-for-bench.ts); this process is the load
// generator. PostgreSQL runs use throwaway databases aviary_bench_* on AVIARY_BENCH_DATABASE_URL
// (default postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards.

import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killChildren } from './child.ts';
import { killBenchProcesses } from './processes.ts';
import { setQuietBudget } from './cpu.ts';
import { runContactListBenchmarks, type ContactLoadReport } from './list-contacts.ts';
import { runEmailIn, runEmailOut } from './email.ts';
import { runListBenchmarks, type LoadReport } from './list-messages.ts';
import { dropAllCreated, postgresVersion } from './pg.ts';
import { runPostBenchmarks } from './post-messages.ts';
import { runSmppBenchmarks } from './smpp.ts';
import { formatProfile, summarizeProfile } from './profile.ts';
import { cpuTable, resultsTable, statementsReport } from './report.ts';
import type { ScenarioResult } from './scenario.ts';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) m.set(a.slice(2, eq), a.slice(eq + 1));
    else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) m.set(a.slice(2), argv[++i]);
    else m.set(a.slice(2), 'true');
  }
  return m;
}

const args = parseArgs(process.argv.slice(2));
const known = ['emails', 'smtp-pool', 'messages', 'window', 'seconds', 'only', 'diagnose', 'quiet-budget', 'duration', 'warmup', 'connections', 'pipelining', 'rate', 'fail-rate', 'list-rate', 'rows', 'scenarios', 'pool', 'profile', 'json', 'max-seconds', 'no-explain'];
for (const k of args.keys()) if (!known.includes(k)) throw new Error(`unknown option --${k}`);
const num = (k: string, d: number) => {
  const v = args.get(k);
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${k} must be a positive number`);
  return n;
};
const only = (args.get('only') ?? 'post,list').split(',');
const scenarios = args.get('scenarios')?.split(',').filter(Boolean) ?? [];
const profileDir = args.has('profile') ? join(here, '.profiles', new Date().toISOString().replace(/[:.]/g, '-')) : undefined;
const log = (l: string) => console.error(l);

const maxSeconds = num('max-seconds', args.has('diagnose') || only.some((x) => x.startsWith('smpp') || x === 'send-latency') ? 540 : 300);
setQuietBudget(num('quiet-budget', 30) * 1000);
let aborting = false;
async function abort(why: string): Promise<never> {
  if (!aborting) {
    aborting = true;
    console.error(`\nbench: aborting (${why}); stopping server children and dropping bench databases`);
    killChildren();
    killBenchProcesses();
    await dropAllCreated();
  }
  process.exit(1);
}
const watchdog = setTimeout(() => void abort(`over --max-seconds ${maxSeconds}`), maxSeconds * 1000);
watchdog.unref();
process.on('SIGINT', () => void abort('SIGINT'));
process.on('SIGTERM', () => void abort('SIGTERM'));

function sh(cmd: string): string {
  try {
    return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

async function main() {
  const started = Date.now();
  const machine = {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: await postgresVersion(),
    kernel: os.release(),
    commit: sh('git rev-parse --short HEAD'),
    dirty: sh('git status --porcelain -- src').split('\n').filter(Boolean).length,
  };
  log(`bench: ${machine.nproc} cores (${machine.cpu}), ${machine.memoryGb} GiB, node ${machine.node}, PostgreSQL ${machine.postgres ?? 'not reachable'}, commit ${machine.commit}${machine.dirty ? ` + ${machine.dirty} changed paths in src/` : ''}`);

  const results: ScenarioResult[] = [];
  let listLoad: LoadReport | undefined;
  let contactLoad: ContactLoadReport | undefined;
  if (only.includes('post')) {
    const pgOk = machine.postgres !== undefined;
    const keys = scenarios.length ? scenarios : [];
    const post = await runPostBenchmarks({
      duration: num('duration', 5),
      warmup: num('warmup', 2),
      connections: num('connections', 50),
      pipelining: num('pipelining', 1),
      rate: num('rate', 2000),
      failRate: num('fail-rate', 1600),
      pgPoolSize: args.has('pool') ? num('pool', 10) : undefined,
      profileDir,
      diagnose: args.has('diagnose'),
      scenarios: keys,
      skipPostgres: !pgOk,
      log,
    });
    results.push(...post);
  }
  // The list benches (messages, contacts) take the same load options.
  const listLoadOptions = () => ({
    rows: num('rows', 1_000_000),
    duration: num('duration', 4),
    rate: num('list-rate', 200),
    connections: args.has('connections') && !only.includes('post') ? num('connections', 10) : 10,
    pgPoolSize: args.has('pool') ? num('pool', 10) : undefined,
    explain: !args.has('no-explain'),
    scenarios,
    log,
  });
  if (only.includes('list')) {
    if (machine.postgres === undefined) log('list: skipped, PostgreSQL not reachable');
    else {
      const list = await runListBenchmarks({ ...listLoadOptions(), diagnose: args.has('diagnose'), profileDir });
      results.push(...list.results);
      listLoad = list.load;
    }
  }

  if (only.includes('contacts')) {
    if (machine.postgres === undefined) log('contacts: skipped, PostgreSQL not reachable');
    else {
      const contacts = await runContactListBenchmarks(listLoadOptions());
      results.push(...contacts.results);
      contactLoad = contacts.load;
    }
  }

  for (const [name, run] of [['email-out', runEmailOut], ['email-in', runEmailIn]] as const) {
    if (!only.includes(name)) continue;
    if (machine.postgres === undefined) log(`${name}: skipped, PostgreSQL not reachable`);
    else results.push(...(await run({ emails: args.has('emails') ? num('emails', 1) : undefined, pool: args.has('smtp-pool') ? num('smtp-pool', 1) : undefined, log })));
  }

  const smppScenarios = only.filter((x) => ['smpp-pipeline', 'smpp-drain', 'send-latency'].includes(x));
  let smpp: Awaited<ReturnType<typeof runSmppBenchmarks>> | undefined;
  if (smppScenarios.length) {
    if (machine.postgres === undefined) log('smpp: skipped, PostgreSQL not reachable');
    else {
      smpp = await runSmppBenchmarks({
        scenarios: smppScenarios,
        messages: num('messages', 20_000),
        connections: num('connections', 50),
        window: num('window', 100),
        rate: num('rate', 500),
        seconds: num('seconds', 10),
        profileDir,
        diagnose: args.has('diagnose'),
        log,
      });
    }
  }

  const out: string[] = [];
  if (smpp) out.push(smpp.text);
  out.push(`\n## Results (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  if (results.length) {
    out.push(resultsTable(results));
    out.push('\nWhere the CPU went (cores = CPU-seconds per wall second; the machine has ' + machine.nproc + '):\n');
    out.push(cpuTable(results));
  }
  const statements = statementsReport(results);
  if (statements) out.push(`\nSQL statements as the server saw them (time from call to result, including the round trip):\n${statements}`);
  if (listLoad) {
    out.push(
      `\nList data set: ${listLoad.rows.toLocaleString('en')} messages, inserted in ${listLoad.insertSec.toFixed(1)} s, vacuum analyze ${listLoad.vacuumSec.toFixed(1)} s; table ${listLoad.tableMb.toFixed(0)} MB, indexes ${listLoad.indexMb.toFixed(0)} MB`,
    );
    for (const [k, p] of Object.entries(listLoad.plans)) out.push(`\nEXPLAIN ANALYZE (${k}): ${p.ms} ms\n${p.plan.split('\n').map((l) => `    ${l}`).join('\n')}`);
  }
  if (contactLoad) {
    out.push(`\nContacts data set: ${contactLoad.rows.toLocaleString('en')} contacts (one identifier each, all in one list), inserted in ${contactLoad.insertSec.toFixed(1)} s, vacuum analyze ${contactLoad.vacuumSec.toFixed(1)} s`);
    for (const [k, p] of Object.entries(contactLoad.plans)) out.push(`\nEXPLAIN ANALYZE (${k}): ${p.ms} ms\n${p.plan.split('\n').map((l) => `    ${l}`).join('\n')}`);
  }
  const notes = results.flatMap((r) => r.notes.map((n) => `- ${r.name} [${r.store}, ${r.settings}]: ${n}`));
  if (notes.length) out.push(`\nNotes:\n${notes.join('\n')}`);
  const missed = results.flatMap((r) => r.targets.filter((t) => !t.met).map((t) => `${r.name} [${r.store}]: ${t.text}`));
  const met = results.flatMap((r) => r.targets.filter((t) => t.met).map((t) => `${r.name} [${r.store}]: ${t.text}`));
  out.push(`\nTargets met: ${met.length ? met.join('; ') : 'none'}`);
  out.push(`Targets missed: ${missed.length ? missed.join('; ') : 'none'}`);
  const failedChecks = results.filter((r) => r.check && !r.check.ok);
  out.push(`Correctness: ${failedChecks.length ? `FAILED in ${failedChecks.map((r) => `${r.name} [${r.store}]`).join(', ')}` : 'every response as expected, every accepted message stored'}`);
  if (profileDir && existsSync(profileDir)) {
    for (const name of readdirSync(profileDir).filter((x) => x.endsWith('.cpuprofile')).sort()) {
      out.push(`\n${formatProfile(summarizeProfile(join(profileDir, name), 25))}`);
    }
  }
  console.log(out.join('\n'));

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const jsonPath = args.get('json') ?? join(here, 'results', `${only.join('+')}-${stamp}.json`);
  mkdirSync(dirname(jsonPath), { recursive: true });
  const json = JSON.stringify({ machine, args: Object.fromEntries(args), results, listLoad, contactLoad, smpp: smpp?.json }, null, 2);
  writeFileSync(jsonPath, json);
  if (!args.has('json')) writeFileSync(join(here, 'results', 'latest.json'), json);
  log(`bench: results written to ${jsonPath} (combine several runs with: node --import tsx bench/summarize.ts bench/results/post-*.json)`);
  clearTimeout(watchdog);
  process.exitCode = failedChecks.length ? 1 : 0;
}

main().catch(async (err) => {
  console.error(err);
  await abort('error');
});
