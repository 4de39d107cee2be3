import type { WriterBenchResult } from './child.ts';
import type { LoadResult } from './load.ts';
import type { PgCounters } from './pg.ts';
import type { ServeMode, ServerStats } from './serve-for-bench.ts';

// What every scenario reports; bench/report.ts turns a list of these into the table.

export interface CpuBreakdown {
  /** Cores busy machine-wide (out of nproc). */
  machine: number;
  server: number;
  postgres?: number;
  loadgen: number;
  /** machine - (server + postgres + loadgen): other processes on the box, kernel softirq, noise. */
  other: number;
}

export interface Target {
  text: string;
  value: number;
  goal: number;
  /** 'min': value must be >= goal; 'max': value must be < goal. */
  kind: 'min' | 'max';
  met: boolean;
}

export interface ScenarioResult {
  group: 'post' | 'list';
  name: string;
  store: ServeMode | 'postgres (writer only)' | 'pglite (writer only)';
  settings: string;
  load?: LoadResult;
  writer?: WriterBenchResult;
  warmup?: { completed: number; rps: number; seconds: number };
  check?: { expected: number; rows: number; ok: boolean; detail: string };
  server?: ServerStats;
  cpu?: CpuBreakdown;
  pg?: PgCounters & { messages: number };
  targets: Target[];
  notes: string[];
}

export function target(text: string, value: number, goal: number, kind: 'min' | 'max'): Target {
  return { text, value, goal, kind, met: kind === 'min' ? value >= goal : value < goal };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
