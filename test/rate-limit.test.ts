import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../src/errors.ts';
import { RateLimiter } from '../src/http/rate-limit.ts';

// The bucket on a clock of its own: what the HTTP test can only bound, this pins down.

function refused(fn: () => void): ApiError | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof ApiError);
    return e;
  }
}

test('a burst of one second, then the rate; GET and writes counted apart, workspaces apart', () => {
  const limiter = new RateLimiter({ get: 5, write: 2 });
  const t0 = 1_000_000;
  for (let i = 0; i < 5; i++) limiter.take('w1', 'GET', t0);
  const e = refused(() => limiter.take('w1', 'GET', t0));
  assert.ok(e);
  assert.equal(e.statusCode, 429);
  assert.equal(e.headers?.['retry-after'], '1');
  // Writes and another workspace have buckets of their own.
  limiter.take('w1', 'POST', t0);
  limiter.take('w1', 'DELETE', t0);
  assert.ok(refused(() => limiter.take('w1', 'PATCH', t0)));
  limiter.take('w2', 'GET', t0);
  // 200 ms at 5/s is one token; HEAD counts as a GET.
  assert.ok(refused(() => limiter.take('w1', 'HEAD', t0 + 100)));
  limiter.take('w1', 'HEAD', t0 + 200);
  assert.ok(refused(() => limiter.take('w1', 'GET', t0 + 200)));
  // A long pause refills to the burst, no further.
  for (let i = 0; i < 5; i++) limiter.take('w1', 'GET', t0 + 60_000);
  assert.ok(refused(() => limiter.take('w1', 'GET', t0 + 60_000)));
  limiter.reset();
  limiter.take('w1', 'GET', t0 + 60_000);
});
