import type { ScenarioResult } from './scenario.ts';

// Markdown tables (readable in a terminal too) from scenario results.

const f = (n: number | undefined, digits = 2) => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits));
const int = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en'));

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

function nonOk(r: ScenarioResult): string {
  if (r.writer) return `${r.writer.failed} failed`;
  const l = r.load!;
  const okCode = r.group === 'list' ? ['200'] : r.store === 'hello' ? ['200', '202'] : ['202'];
  const good = okCode.reduce((a, c) => a + (l.byStatus[c] ?? 0), 0);
  const other = Object.entries(l.byStatus)
    .filter(([c]) => !okCode.includes(c))
    .map(([c, n]) => `${n}×${c}`);
  const parts = [`${l.completed - good + l.errors + l.timeouts + (l.unanswered ?? 0)}`];
  if (l.unanswered) parts.push(`(${l.unanswered} unanswered within the time bound)`);
  if (other.length) parts.push(`(${other.join(', ')})`);
  if (l.errors || l.timeouts) parts.push(`(${l.errors} err, ${l.timeouts} timeout)`);
  if (l.mismatches) parts.push(`${l.mismatches} bad body`);
  return parts.join(' ');
}

export function resultsTable(results: ScenarioResult[]): string {
  const rows = results.map((r) => {
    const t = r.targets.map((x) => `${x.met ? 'MET' : 'MISSED'}: ${x.text} → ${x.text.includes('%') ? `${(100 * x.value).toFixed(1)}%` : f(x.value, x.value > 100 ? 0 : 2)}`);
    if (r.writer) {
      return [r.name, r.store, r.settings, int(r.writer.perSec), f(r.writer.p50), f(r.writer.p99), nonOk(r), r.check ? (r.check.ok ? 'ok' : 'FAIL') + ` (${r.check.detail})` : '', t.join('; ')];
    }
    const l = r.load!;
    const rate = r.store === 'hello' || r.group === 'list' ? l.rps : (l.byStatus['202'] ?? 0) / l.wallSec;
    const p99 = l.scheduled ? `${f(l.p99)} (${f(l.scheduled.p99)})` : f(l.p99);
    return [r.name, r.store, r.settings, int(rate), f(l.p50), p99, nonOk(r), r.check ? (r.check.ok ? 'ok' : 'FAIL') + ` (${r.check.detail})` : '', t.join('; ')];
  });
  return table(['scenario', 'store', 'load', 'req/s (2xx)', 'p50 ms', 'p99 ms (paced: from schedule)', 'errors/non-2xx', 'correctness', 'target'], rows);
}

export function cpuTable(results: ScenarioResult[]): string {
  const rows = results.map((r) => {
    const c = r.cpu;
    const b = r.server?.batches;
    const pgc = r.pg;
    const perCommit = pgc && pgc.xactCommit ? (pgc.messages / pgc.xactCommit).toFixed(1) : '–';
    const walSync = pgc && pgc.messages ? (pgc.walSync / pgc.messages).toFixed(3) : '–';
    const walBytes = pgc && pgc.messages ? int(pgc.walBytes / pgc.messages) : '–';
    const rate = r.writer ? r.writer.perSec : r.load ? r.load.completed / r.load.wallSec : NaN;
    const us = (cores: number | undefined) => (cores === undefined || !rate ? '–' : int((cores / rate) * 1e6));
    return [
      r.name,
      r.store,
      us(c?.server),
      us(c?.postgres),
      c ? f(c.machine) : '–',
      c ? f(c.server) : '–',
      c?.postgres !== undefined ? f(c.postgres) : '–',
      c ? f(c.loadgen) : '–',
      c ? f(c.other) : '–',
      r.server ? f(r.server.eventLoopUtilization) : '–',
      b ? `${f(b.meanSize, 1)} / ${b.p50Size} / ${b.maxSize}` : '–',
      b ? `${f(b.writeMsP50)} / ${f(b.writeMsP99)}` : '–',
      b ? f(b.meanInFlight, 2) : '–',
      perCommit,
      walSync,
      walBytes,
    ];
  });
  return table(
    ['scenario', 'store', 'server CPU µs/req', 'postgres CPU µs/req', 'cores busy', 'server', 'postgres', 'loadgen', 'other', 'server ELU', 'batch mean/p50/max', 'batch ms p50/p99', 'batches in flight', 'msgs/commit (pg)', 'wal syncs/msg', 'WAL B/msg'],
    rows,
  );
}

/** Per scenario with statement timings: the statements that took the most time, per accepted message. */
export function statementsReport(results: ScenarioResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    const st = r.server?.statements;
    if (!st?.length) continue;
    const unit = r.group === 'list' ? 'request' : 'msg';
    const messages = r.writer ? r.writer.ok : r.group === 'list' ? (r.load?.completed ?? 0) : (r.load?.byStatus['202'] ?? 0);
    out.push(`\n${r.name} [${r.store}, ${r.settings}]: ${messages.toLocaleString('en')} ${unit}s`);
    out.push(
      table(
        ['statement (first 90 chars)', 'calls', `calls/${unit}`, 'mean ms', 'total ms', `ms per ${unit}`],
        st.slice(0, 8).map((x) => [x.sql, int(x.calls), f(x.calls / messages, 3), f(x.meanMs), int(x.totalMs), f(x.totalMs / messages, 3)]),
      ),
    );
  }
  return out.join('\n');
}
