import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrapIfEmpty } from '../src/bootstrap.ts';
import { openDatabase, type Database } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { processCpuSec } from './cpu.ts';
import { createBenchDatabase, withAdmin } from './pg.ts';

// The real processes the pipeline benches run, each in its own process so its CPU is counted apart:
// `aviary serve` (bin/aviary.js, as an operator runs it), the loopback webhook receiver
// (bench/webhooks-receiver.ts) and `aviary smsc` (the SMSC simulator). The store is set up from the
// bench process before Aviary starts (migrated, bootstrapped), so every channel and subscription
// exists before the first claim and no cache can hold a stale view of them.

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'bin', 'aviary.js');
const children = new Set<ChildProcess>();

/** Kills every child this module started and has not stopped (on abort or exit). */
export function killBenchProcesses(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  children.clear();
}
process.on('exit', killBenchProcesses);

export interface ReceiverStats {
  total: number;
  unique: number;
  keys: number;
  firstAt: number;
  lastAt: number;
  latency?: { n: number; p50: number; p90: number; p99: number; max: number };
  pipeline?: { n: number; p50: number; p90: number; p99: number; max: number };
  byStatus?: Record<string, { n: number; p50: number; p99: number }>;
}

export interface Receiver {
  port: number;
  pid: number;
  stats(): Promise<ReceiverStats>;
  close(): void;
}

/** The loopback webhook receiver (bench/webhooks-receiver.ts): `raw` costs the least CPU. */
export function startReceiver(kind: string, latency: boolean): Promise<Receiver> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'webhooks-receiver.ts'), JSON.stringify({ kind, latency })], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (m: { port: number }) => {
      const waiters: ((s: ReceiverStats) => void)[] = [];
      child.on('message', (s: ReceiverStats) => waiters.shift()?.(s));
      resolve({
        port: m.port,
        pid: child.pid!,
        stats: () => new Promise((r) => (waiters.push(r), child.send('stats'))),
        close: () => {
          child.kill();
          children.delete(child);
        },
      });
    });
  });
}

export interface LoggedChild {
  pid: number;
  /** What it printed so far (the first 200 kB). */
  out(): string;
  stop(): Promise<void>;
}

function spawnLogged(args: string[], ready: RegExp, what: string): Promise<{ child: LoggedChild; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  const stop = () =>
    new Promise<void>((r) => {
      if (child.exitCode !== null) return r();
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => (clearTimeout(kill), r()));
      child.kill('SIGTERM');
      children.delete(child);
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${out.slice(-2000)}`)), 30_000);
    let done = false;
    const onData = (d: Buffer) => {
      if (out.length < 200_000) out += d.toString();
      const m = ready.exec(out);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        resolve({ child: { pid: child.pid!, out: () => out, stop }, match: m });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => !done && (clearTimeout(timer), reject(new Error(`${what} exited (${code}): ${out.slice(-2000)}`))));
  });
}

export interface AviaryChild extends LoggedChild {
  /** The API's base URL (undefined for a worker-only process). */
  url?: string;
}

/** `aviary serve` on the store at `databaseUrl` (bootstrapped already), with `extra` flags (e.g. --roles worker). */
export async function startAviaryChild(databaseUrl: string, extra: string[] = [], nodeArgs: string[] = []): Promise<AviaryChild> {
  const args = [...nodeArgs, BIN, 'serve', '--database-url', databaseUrl, '--bootstrap', 'false', '--log-level', 'info', '--port', '0', '--rate-limit', 'false', ...extra];
  // Every role logs this once started; a process with the API role logs its URL in the same line.
  const { child, match } = await spawnLogged(args, /\{[^\n]*"msg":"aviary listening"/, 'aviary');
  return { ...child, url: /"url":"(http[^"]+)"/.exec(match[0])?.[1] };
}

export interface SmscChild extends LoggedChild {
  port: number;
}

/** `aviary smsc` on a free loopback port with the given flags (e.g. --response-delay-ms 50). */
export async function startSmscChild(flags: string[] = []): Promise<SmscChild> {
  const { child, match } = await spawnLogged([BIN, 'smsc', '--port', '0', '--log-level', 'info', ...flags], /"port":(\d+)[^\n]*"msg":"smsc ready"/, 'aviary smsc');
  return { ...child, port: Number(match[1]) };
}

export interface BenchStore {
  db: Database;
  name: string;
  url: string;
  boot: NonNullable<Awaited<ReturnType<typeof bootstrapIfEmpty>>>;
}

/** A fresh throwaway PostgreSQL database, migrated and bootstrapped (workspace, access key, sandbox channels). */
export async function setupStore(tag: string): Promise<BenchStore> {
  const { name, url } = await createBenchDatabase(tag);
  const db = await openDatabase({ databaseUrl: url, memory: false, dataDir: '', pgPoolSize: 4 });
  await migrate(db.db);
  const boot = (await bootstrapIfEmpty(db.db))!;
  return { db, name, url, boot };
}

/** The PostgreSQL backends serving this database (not the shared background processes: other databases use them too). */
export async function postgresBackends(db: string): Promise<number[]> {
  return withAdmin(async (c) => (await c.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [db])).rows.map((r) => r.pid));
}

/** CPU seconds per PostgreSQL backend of the database, to diff: backends that appear later count from 0. */
export async function pgCpu(db: string): Promise<Map<number, number>> {
  return new Map((await postgresBackends(db)).map((pid) => [pid, processCpuSec(pid) ?? 0]));
}

export function pgCpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, sec] of after) sum += sec - (before.get(pid) ?? 0);
  return sum;
}

export function cpuOf(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + (processCpuSec(pid) ?? 0), 0);
}
