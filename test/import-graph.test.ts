import assert from 'node:assert/strict';
import { test } from 'node:test';
// @ts-expect-error: a plain .mjs script, no types
import { importGraph } from '../scripts/import-graph.mjs';

// The layers of docs/architecture.md, held by the code: features do not reach up into the composition
// root or into each other's higher layers, and the send path has no folders that import each other.
// `node scripts/import-graph.mjs` prints the edges when this fails.

const g = importGraph(new URL('../src', import.meta.url).pathname);

test('every folder of src/ has a layer', () => {
  assert.deepEqual(g.unknown, []);
});

test('at most 16 folder-level imports point up a layer', () => {
  assert.ok(g.up.length <= 16, `${g.up.length} up-layer imports:\n${g.up.join('\n')}`);
});

test('no two folders of the send path import each other', () => {
  assert.deepEqual(g.sendPathMutual, []);
});
