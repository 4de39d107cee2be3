import { readFileSync } from 'node:fs';

// CPU accounting from /proc (Linux): machine-wide busy time and per-process user+system time, so a
// run can say where its two cores went (server process, PostgreSQL, load generator, anything else).

const CLK_TCK = 100; // USER_HZ; 100 on every mainstream Linux build

export interface CpuSnapshot {
  at: number;
  machineBusy: number; // seconds
  machineTotal: number;
  perPid: Map<number, number>; // seconds
}

function machine(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3] + (f[4] ?? 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

export function processCpuSec(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields after "pid (comm) ": state=0 ... utime=11, stime=12
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

export function snapshot(pids: number[]): CpuSnapshot {
  const m = machine();
  const perPid = new Map<number, number>();
  for (const pid of pids) {
    const v = processCpuSec(pid);
    if (v !== undefined) perPid.set(pid, v);
  }
  return { at: performance.now(), machineBusy: m.busy, machineTotal: m.total, perPid };
}

/**
 * Cores used (CPU seconds per wall second) between two snapshots by a pid group. A pid present only in
 * the second snapshot started in between (a new PostgreSQL backend): all its CPU time counts.
 */
export function coresBetween(a: CpuSnapshot, b: CpuSnapshot, pids: number[]): number {
  const wall = (b.at - a.at) / 1000;
  let sum = 0;
  for (const pid of new Set(pids)) {
    const y = b.perPid.get(pid);
    if (y !== undefined) sum += y - (a.perPid.get(pid) ?? 0);
  }
  return sum / wall;
}

export function machineCoresBetween(a: CpuSnapshot, b: CpuSnapshot): number {
  return (b.machineBusy - a.machineBusy) / ((b.at - a.at) / 1000);
}

/**
 * Waits (at most `maxMs`) for the machine to be nearly idle before a measurement, since other work on a
 * shared 2-core box (a compiler, a test run) would be measured as our slowness. Returns the busy cores
 * seen in the last 500 ms window.
 */
let quietBudgetMs = 60_000; // over the whole invocation, so a busy machine cannot stretch a run unboundedly

export function setQuietBudget(ms: number): void {
  quietBudgetMs = ms;
}

export async function waitForQuiet(maxMs = 15_000, threshold = 0.3): Promise<{ busy: number; waitedMs: number }> {
  const t0 = performance.now();
  for (;;) {
    const a = snapshot([]);
    await new Promise((r) => setTimeout(r, 500));
    const busy = machineCoresBetween(a, snapshot([]));
    const waitedMs = performance.now() - t0;
    if (busy < threshold || waitedMs >= Math.min(maxMs, quietBudgetMs)) {
      quietBudgetMs = Math.max(0, quietBudgetMs - waitedMs);
      return { busy, waitedMs };
    }
  }
}
