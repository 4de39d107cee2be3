// A preload that counts the statements each Node process sends through pg, by statement text:
//   NODE_OPTIONS="--import ./bench/diagnostics/count-queries.mjs" npm run bench -- --only smpp-drain
// NODE_OPTIONS reaches every child the bench starts (Aviary, the SMSC, the receiver). Each process
// that sent any statement rewrites <dir>/queries-<pid>.txt once a second (dir: AVIARY_DIAG_DIR, else
// the system temp dir), so the counts survive a child killed at the end of the run. It patches
// pg.Client.prototype.query, which Aviary's own clients (db/prepared-statements.ts) call through.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(new URL('../../package.json', import.meta.url));
const pg = require('pg');
const dir = process.env.AVIARY_DIAG_DIR ?? tmpdir();
const counts = new Map();
let total = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (q, ...rest) {
  const text = typeof q === 'string' ? q : `${q?.name ? `${q.name} ` : ''}${q?.text ?? ''}`;
  const key = text.replace(/\s+/g, ' ').slice(0, 120);
  counts.set(key, (counts.get(key) ?? 0) + 1);
  total++;
  return query.call(this, q, ...rest);
};
const tag = process.argv.slice(1).join(' ').slice(-100);
setInterval(() => {
  if (!total) return;
  const lines = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 40).map(([k, c]) => `${c} ${k}`);
  writeFileSync(join(dir, `queries-${process.pid}.txt`), `${tag}\ntotal ${total}\n${lines.join('\n')}\n`);
}, 1000).unref();
