// A preload that shows how long each Node process makes I/O wait: every 2 s, a process whose event
// loop was more than 5% busy appends a line to <dir>/event-loop-<pid>.txt (dir: AVIARY_DIAG_DIR,
// else the system temp dir): loop utilisation and event-loop delay (mean, p50/p90/p99, max; the 1 ms
// sampling resolution is in every figure, so an idle loop reads about 1.1 ms mean).
//   NODE_OPTIONS="--import ./bench/diagnostics/event-loop.mjs" npm run bench -- --only smpp-drain
// Code under study may push durations (ms) to globalThis.__aviaryTimings in a temporary probe; they
// are summarised on the same line and cleared.
import { appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

const dir = process.env.AVIARY_DIAG_DIR ?? tmpdir();
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let elu0 = performance.eventLoopUtilization();
const tag = process.argv.slice(1).join(' ').slice(-100);
const ms = (ns) => (ns / 1e6).toFixed(2);
appendFileSync(join(dir, `event-loop-${process.pid}.txt`), `${tag}\n`);

setInterval(() => {
  const elu = performance.eventLoopUtilization(elu0);
  elu0 = performance.eventLoopUtilization();
  const timings = globalThis.__aviaryTimings ?? [];
  globalThis.__aviaryTimings = [];
  if (elu.utilization > 0.05) {
    let line = `busy ${elu.utilization.toFixed(2)} delay mean ${ms(delay.mean)} p50 ${ms(delay.percentile(50))} p90 ${ms(delay.percentile(90))} p99 ${ms(delay.percentile(99))} max ${ms(delay.max)}`;
    if (timings.length) {
      timings.sort((a, b) => a - b);
      const q = (p) => timings[Math.floor(p * (timings.length - 1))].toFixed(1);
      const mean = timings.reduce((s, x) => s + x, 0) / timings.length;
      line += ` | timings n ${timings.length} mean ${mean.toFixed(2)} p10 ${q(0.1)} p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)}`;
    }
    appendFileSync(join(dir, `event-loop-${process.pid}.txt`), `${line}\n`);
  }
  delay.reset();
}, 2000).unref();
