import { readFileSync } from 'node:fs';

// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per "where" (a package in
// node_modules, a file of src/, node internals, GC, idle), as percentages of the profile's wall time.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  byPlace: Array<{ place: string; ms: number; pct: number }>;
  byFunction: Array<{ fn: string; place: string; ms: number; pct: number }>;
}

export function place(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native/builtin)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const src = /\/(src|bench)\/(.+)$/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\/(\w+).*$/, 'node:internal/$1');
  return url;
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const totalUs = p.endTime - p.startTime;
  let idleUs = 0;
  for (const [id, us] of self) if (byId.get(id)!.callFrame.functionName === '(idle)') idleUs += us;
  const places = new Map<string, number>();
  const fns = new Map<string, { fn: string; place: string; us: number }>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') continue;
    const pl = place(n.callFrame.url, n.callFrame.functionName);
    places.set(pl, (places.get(pl) ?? 0) + us);
    const name = `${n.callFrame.functionName || '(anonymous)'}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    const key = `${pl} ${name}`;
    const e = fns.get(key) ?? { fn: name, place: pl, us: 0 };
    e.us += us;
    fns.set(key, e);
  }
  // Percentages of the time the thread was busy (not idle).
  const busyUs = Math.max(1, totalUs - idleUs);
  const pct = (us: number) => (100 * us) / busyUs;
  return {
    file,
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    byPlace: [...places].sort((a, b) => b[1] - a[1]).slice(0, top).map(([place, us]) => ({ place, ms: us / 1000, pct: pct(us) })),
    byFunction: [...fns.values()].sort((a, b) => b.us - a.us).slice(0, top).map((e) => ({ fn: e.fn, place: e.place, ms: e.us / 1000, pct: pct(e.us) })),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const lines = [`profile ${s.file} (${(s.totalMs / 1000).toFixed(1)} s wall, ${(s.busyMs / 1000).toFixed(1)} s busy; % of busy time)`, '  self time by place:'];
  for (const x of s.byPlace) lines.push(`    ${x.pct.toFixed(1).padStart(5)}%  ${x.place}`);
  lines.push('  self time by function:');
  for (const x of s.byFunction) lines.push(`    ${x.pct.toFixed(1).padStart(5)}%  ${x.fn}  [${x.place}]`);
  return lines.join('\n');
}

// `node --import tsx bench/profile.ts file.cpuprofile...` prints the summaries.
if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of process.argv.slice(2)) console.log(formatProfile(summarizeProfile(f)));
}
