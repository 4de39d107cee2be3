import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Signal } from '../src/db/signal.ts';

test('notify wakes every sleeping loop at once', async () => {
  const s = new Signal();
  const started = Date.now();
  const sleepers = [s.wait(5_000), s.wait(5_000), s.wait(5_000)];
  s.notify();
  await Promise.all(sleepers);
  assert.ok(Date.now() - started < 1000);
});

test('a notify with nobody sleeping is remembered once', async () => {
  const s = new Signal();
  s.notify();
  const started = Date.now();
  await s.wait(5_000);
  assert.ok(Date.now() - started < 100, 'the remembered signal returns at once');
  const t = Date.now();
  await s.wait(50);
  assert.ok(Date.now() - t >= 40, 'and only once');
});

test('a loop busy while another sleeps still gets the wake-up sent during its round', async () => {
  const s = new Signal();
  const asleep = s.wait(5_000); // another loop, asleep: it takes the notify
  const seen = s.generation; // this loop, before its round
  s.notify(); // work committed while this loop was busy
  await asleep;
  const started = Date.now();
  await s.wait(5_000, seen);
  assert.ok(Date.now() - started < 100, 'the wake-up sent since `seen` returns at once');
  const t = Date.now();
  await s.wait(50, s.generation);
  assert.ok(Date.now() - t >= 40, 'nothing sent since: it sleeps');
});
