#!/usr/bin/env node
// The folder-level import graph of src/, read as a newcomer reads it: which feature folders import
// which, which imports point UP a layer (a low folder reaching into a higher one), and which folder
// pairs import each other. The layers are the design (docs/architecture.md); this script is how we
// check the code still matches it. `node scripts/import-graph.mjs [--edges]`; exits 0 either way,
// test/import-graph.test.ts holds the limits.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Lowest first. A folder may import its own layer and the ones below; files at the top of src/ are
// named "(root)/<file>".
export const LAYERS = [
  ['(root)/errors', '(root)/ids', '(root)/ttl-cache', '(root)/config', '(root)/clock', '(root)/virtual-clock'],
  ['db'],
  ['http'],
  ['auth', 'workspaces'],
  ['webhooks'],
  ['channels'],
  ['connectors'],
  ['contacts', 'lists', 'suppressions', 'media', 'smsc'],
  ['message-body'],
  ['templates'],
  ['messages'],
  ['interactions', 'dispatch'],
  ['sandbox'],
  ['inbox'],
  ['server', '(root)/app', '(root)/context', '(root)/bootstrap', 'cli', '(root)/testing'],
];
// The send path: no two of these may import each other.
export const SEND_PATH = ['messages', 'dispatch', 'webhooks', 'connectors', 'media', 'templates', 'message-body'];

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

export function importGraph(srcDir) {
  const root = resolve(srcDir);
  const folderOf = (file) => {
    const parts = relative(root, file).split('/');
    return parts.length === 1 ? `(root)/${parts[0].replace(/\.ts$/, '')}` : parts[0];
  };
  const layerOf = (folder) => LAYERS.findIndex((l) => l.includes(folder));
  const edges = new Map(); // "a -> b" => [file imports]
  for (const file of walk(root)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), m[1]);
      const a = folderOf(file);
      const b = folderOf(target);
      if (a === b) continue;
      const key = `${a} -> ${b}`;
      edges.set(key, [...(edges.get(key) ?? []), `${relative(root, file)} imports ${relative(root, target)}`]);
    }
  }
  const pairs = [...edges.keys()].map((k) => k.split(' -> '));
  const unknown = [...new Set(pairs.flat().filter((f) => layerOf(f) < 0))];
  const up = pairs.filter(([a, b]) => layerOf(b) > layerOf(a)).map(([a, b]) => `${a} -> ${b}`);
  const mutual = pairs.filter(([a, b]) => a < b && edges.has(`${b} -> ${a}`)).map(([a, b]) => `${a} <-> ${b}`);
  const sendPathMutual = mutual.filter((m) => m.split(' <-> ').every((f) => SEND_PATH.includes(f)));
  return { edges, up, mutual, sendPathMutual, unknown };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const g = importGraph(join(dirname(fileURLToPath(import.meta.url)), '../src'));
  if (process.argv.includes('--edges')) for (const [k, v] of [...g.edges].sort()) console.log(`${k}  (${v.length})`);
  console.log(`imports pointing up a layer: ${g.up.length}`);
  for (const u of g.up) console.log(`  ${u}: ${g.edges.get(u).join('; ')}`);
  console.log(`folder pairs importing each other: ${g.mutual.length}`);
  for (const m of g.mutual) console.log(`  ${m}${g.sendPathMutual.includes(m) ? '  (send path)' : ''}`);
  if (g.unknown.length) console.log(`folders in no layer: ${g.unknown.join(', ')}`);
}
