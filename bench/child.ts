import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServeInfo, ServeOptions, ServerStats } from './serve-for-bench.ts';

// Parent side of bench/serve-for-bench.ts: spawns the server in its own Node process (optionally with
// --cpu-prof) and talks to it over the IPC channel.

const here = dirname(fileURLToPath(import.meta.url));

export interface ServerChild {
  info: ServeInfo;
  pid: number;
  count(reference?: string): Promise<number>;
  /** Starts a measured window; `label` names its CPU profile when profiling (default: the server's name). */
  statsBegin(label?: string): Promise<void>;
  statsEnd(): Promise<ServerStats>;
  /** Creates and caches the contacts of the known receivers (bench/bodies.ts); returns how many. */
  seedContacts(): Promise<number>;
  writerBench(a: { seconds: number; count?: number; concurrency: number; tag: string; newEvery: number }): Promise<WriterBenchResult>;
  close(): Promise<void>;
}

export interface WriterBenchResult {
  sent: number;
  ok: number;
  failed: number;
  wallSec: number;
  perSec: number;
  p50: number;
  p99: number;
}

const children = new Set<ChildProcess>();

/** Kills every server child still running (used on abort). Only processes this module spawned. */
export function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
}

/**
 * With `profile`, the child records a V8 CPU profile of each measured window (statsBegin..statsEnd,
 * through node:inspector, so start-up and warm-up are left out) into `${dir}/${label ?? name}.cpuprofile`.
 */
export async function startServer(opts: ServeOptions, profile?: { dir: string; name: string }): Promise<ServerChild> {
  const nodeArgs = ['--import', 'tsx'];
  if (profile) {
    mkdirSync(profile.dir, { recursive: true });
    opts = { ...opts, profileDir: profile.dir };
  }
  const profileName = profile?.name;
  const child = spawn(process.execPath, [...nodeArgs, join(here, 'serve-for-bench.ts'), JSON.stringify(opts)], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    cwd: join(here, '..'),
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.stdout!.resume(); // the JSON line is also sent over IPC; stdout is for humans running it by hand

  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const info = await new Promise<ServeInfo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server child did not start within 60 s')), 60_000);
    child.on('message', (raw: unknown) => {
      const m = raw as { ready?: ServeInfo; id?: number; result?: unknown; error?: string };
      if (m.ready) {
        clearTimeout(timer);
        resolve(m.ready);
        return;
      }
      const p = m.id !== undefined ? pending.get(m.id) : undefined;
      if (!p) return;
      pending.delete(m.id!);
      if (m.error) p.reject(new Error(`server child: ${m.error}`));
      else p.resolve(m.result);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const err = new Error(`server child exited (${code ?? signal})`);
      reject(err);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    });
  });

  const call = <T>(msg: Record<string, unknown>, timeoutMs = 120_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`server child: ${String(msg.cmd)} timed out`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      child.send({ id, ...msg });
    });

  return {
    info,
    pid: child.pid!,
    count: (reference) => call<number>({ cmd: 'count', reference }),
    statsBegin: (label) => call<void>({ cmd: 'stats-begin', label: label ?? profileName }),
    statsEnd: () => call<ServerStats>({ cmd: 'stats-end' }),
    seedContacts: () => call<number>({ cmd: 'seed-contacts' }),
    writerBench: (a) => call<WriterBenchResult>({ cmd: 'writer-bench', ...a }, (a.seconds + 30) * 1000),
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        await call<boolean>({ cmd: 'close' }, 30_000);
      } catch {
        child.kill('SIGKILL');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
