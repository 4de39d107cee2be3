#!/usr/bin/env node
// The test command. Finds PostgreSQL (AVIARY_TEST_DATABASE_URL, or the usual local server) and hands
// it to the tests so every storage test runs on both PGlite and PostgreSQL; without one, says so and
// runs on PGlite alone. Then runs every test/**/*.test.ts with node's own test runner.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

const candidate = process.env.AVIARY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const env = { ...process.env };
try {
  const client = new pg.Client({ connectionString: candidate, connectionTimeoutMillis: 2000 });
  await client.connect();
  const { rows } = await client.query('show server_version');
  await client.end();
  env.AVIARY_TEST_DATABASE_URL = candidate;
  console.log(`# storage tests run on PGlite and on PostgreSQL ${rows[0].server_version} (${candidate.replace(/:[^:@/]*@/, ':***@')})`);
} catch (err) {
  delete env.AVIARY_TEST_DATABASE_URL;
  console.log(`# PostgreSQL not reachable at ${candidate} (${err.message}): storage tests run on PGlite only`);
}

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'support' ? [] : find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}
const only = process.argv.slice(2);
const files = only.length ? only : find('test').sort();
// Most test files spend their time waiting (on a socket, a poll, a provider's delay), not computing:
// node's default of one file per core less one would run them one by one on a 2-core machine.
// AVIARY_TEST_CONCURRENCY overrides (1 runs the files one at a time, for a clean timing).
const concurrency = process.env.AVIARY_TEST_CONCURRENCY ?? '4';
const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], { env, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
