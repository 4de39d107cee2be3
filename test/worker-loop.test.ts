import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '../src/clock.ts';
import { Signal } from '../src/db/signal.ts';
import { errorBackoffMs, runWorkerLoop, type RoundResult } from '../src/db/worker-loop.ts';

// The loop skeleton shared by the dispatcher and the webhook worker (src/db/worker-loop.ts).

function loop(rounds: (n: number) => Promise<RoundResult>, pollMs = 5_000) {
  const signal = new Signal();
  const errors: unknown[] = [];
  const at: number[] = [];
  let stopped = false;
  const done = runWorkerLoop({
    signal,
    pollMs,
    clock: systemClock,
    isStopped: () => stopped,
    round: () => {
      at.push(Date.now());
      return rounds(at.length);
    },
    onError: (err) => errors.push(err),
  });
  const stop = async () => {
    stopped = true;
    signal.notify();
    await done;
  };
  return { signal, errors, at, stop };
}

const until = async (cond: () => boolean, ms = 3_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('a round that says "again" runs the next one at once; an idle one sleeps until woken', async () => {
  const l = loop(async (n) => (n < 5 ? 'again' : null));
  await until(() => l.at.length === 5);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(l.at.length, 5, 'idle: no round until a wake-up or pollMs');
  l.signal.notify();
  await until(() => l.at.length === 6);
  await l.stop();
});

test('an idle round sleeps until the due moment it names, and pollMs caps the sleep', async () => {
  const due = loop(async (n) => (n === 1 ? new Date(Date.now() + 150) : null));
  await until(() => due.at.length === 2);
  assert.ok(due.at[1] - due.at[0] >= 140, `slept ${due.at[1] - due.at[0]} ms until the due moment`);
  await due.stop();
  const capped = loop(async (n) => (n === 1 ? new Date(Date.now() + 60_000) : null), 100);
  await until(() => capped.at.length === 2);
  assert.ok(capped.at[1] - capped.at[0] < 1_000, 'pollMs bounds a far due moment');
  await capped.stop();
});

test('a failing round is reported and retried after a growing backoff, then the loop carries on', async () => {
  const l = loop(async (n) => {
    if (n <= 2) throw new Error(`down ${n}`);
    return n < 4 ? 'again' : null;
  });
  await until(() => l.at.length === 4);
  assert.deepEqual(l.errors.map((e) => (e as Error).message), ['down 1', 'down 2']);
  assert.ok(l.at[1] - l.at[0] >= errorBackoffMs(1) - 10, 'first backoff');
  assert.ok(l.at[2] - l.at[1] >= errorBackoffMs(2) - 10, 'second, longer backoff');
  assert.ok(errorBackoffMs(2) > errorBackoffMs(1) && errorBackoffMs(100) === 30_000);
  await l.stop();
});

test('stop ends a sleeping loop at once', async () => {
  const l = loop(async () => null, 60_000);
  await until(() => l.at.length === 1);
  const started = Date.now();
  await l.stop();
  assert.ok(Date.now() - started < 1_000);
  assert.equal(l.at.length, 1);
});
