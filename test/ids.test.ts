import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isUuid, randomHex, uuidv7, uuidv7Time } from '../src/ids.ts';

// Ids draw their random bits from a pool refilled 4 KiB at a time (256 ids): across several refills
// they stay distinct, strictly increasing, version 7 with the RFC 4122 variant, and carry their time.
test('uuidv7: distinct, increasing, version 7, its time recoverable, across refills of the random pool', () => {
  const at = Date.now();
  const ids = Array.from({ length: 5000 }, () => uuidv7(at));
  assert.equal(new Set(ids).size, ids.length);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `${ids[i]} after ${ids[i - 1]}`);
  for (const id of ids) {
    assert.ok(isUuid(id));
    assert.equal(id[14], '7');
    assert.match(id[19], /[89ab]/);
  }
  assert.ok(uuidv7Time(ids[0]) === at && uuidv7Time(ids.at(-1)!) >= at);
  // The random tails differ (not one pool slice reused).
  assert.equal(new Set(ids.map((id) => id.slice(-12))).size, ids.length);
});

test('randomHex: the asked length, hex, distinct across refills of the pool it shares with uuidv7', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const h = randomHex(8);
    assert.match(h, /^[0-9a-f]{16}$/);
    seen.add(h);
    if (i % 7 === 0) uuidv7();
  }
  assert.equal(seen.size, 2000);
});
