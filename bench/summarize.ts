// Several runs of `npm run bench` side by side: for each scenario the median and the range over runs of
// throughput and latency, and of the CPU other processes took meanwhile. On a shared machine single
// runs vary; the median of a few, with its range, is what BENCHMARKS.md reports.
//
//   node --import tsx bench/summarize.ts bench/results/post-*.json

import { readFileSync } from 'node:fs';
import type { ScenarioResult } from './scenario.ts';

interface RunFile {
  machine: { commit: string; dirty: number };
  results: ScenarioResult[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export function rateOf(r: ScenarioResult): number {
  if (r.writer) return r.writer.perSec;
  const l = r.load!;
  return r.store === 'hello' || r.group === 'list' ? l.rps : (l.byStatus['202'] ?? 0) / l.wallSec;
}

export function p99Of(r: ScenarioResult): number {
  if (r.writer) return r.writer.p99;
  return r.load!.p99;
}

function fmt(xs: number[], digits: number): string {
  const f = (n: number) => (digits === 0 ? Math.round(n).toLocaleString('en') : n.toFixed(digits));
  if (xs.length === 1) return f(xs[0]);
  return `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
}

export function summarize(files: string[]): string {
  const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as RunFile);
  const groups = new Map<string, ScenarioResult[]>();
  for (const run of runs) {
    for (const r of run.results) {
      const key = `${r.name}\u0000${r.store}\u0000${r.settings}`;
      const list = groups.get(key) ?? [];
      list.push(r);
      groups.set(key, list);
    }
  }
  const header = ['scenario', 'store', 'load', 'runs', 'req/s (2xx)', 'p50 ms', 'p99 ms', 'p99 from schedule (paced)', 'server CPU µs/req', 'postgres CPU µs/req', 'other procs, cores', 'checks failed'];
  const perReq = (r: ScenarioResult, cores: number | undefined) => {
    const rate = r.writer ? r.writer.perSec : r.load ? r.load.completed / r.load.wallSec : NaN;
    return cores === undefined || !rate ? NaN : (cores / rate) * 1e6;
  };
  const rows = [...groups.values()].map((rs) => {
    const r0 = rs[0];
    const sched = rs.map((r) => r.load?.scheduled?.p99).filter((x): x is number => x !== undefined);
    return [
      r0.name,
      r0.store,
      r0.settings,
      String(rs.length),
      fmt(rs.map(rateOf), 0),
      fmt(rs.map((r) => (r.writer ? r.writer.p50 : r.load!.p50)), 2),
      fmt(rs.map(p99Of), 2),
      sched.length ? fmt(sched, 1) : '–',
      fmt(rs.map((r) => perReq(r, r.cpu?.server)), 0),
      rs.some((r) => r.cpu?.postgres !== undefined) ? fmt(rs.map((r) => perReq(r, r.cpu?.postgres)), 0) : '–',
      fmt(rs.map((r) => r.cpu?.other ?? 0), 2),
      String(rs.filter((r) => r.check && !r.check.ok).length),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const commits = [...new Set(runs.map((r) => `${r.machine.commit}${r.machine.dirty ? `+${r.machine.dirty} changed` : ''}`))].join(', ');
  return [`${runs.length} runs (commit ${commits}); median (min–max)`, '', line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(summarize(process.argv.slice(2)));
