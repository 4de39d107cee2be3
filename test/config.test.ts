import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { ConfigError, OPTIONS, defaultConfig, loadConfig } from '../src/config.ts';

test('zero settings give the documented defaults', () => {
  assert.deepEqual(loadConfig({}, []), defaultConfig());
});

test('environment, then flags; boolean flags with or without a value', () => {
  const c = loadConfig({ PORT: '9000', AVIARY_RATE_LIMIT: 'off', AVIARY_ROLES: 'worker' }, ['--port', '9001', '--memory', '--rate-limit', 'true', '--bootstrap=false']);
  assert.equal(c.port, 9001);
  assert.equal(c.memory, true);
  assert.equal(c.rateLimit, true);
  assert.equal(c.bootstrap, false);
  assert.deepEqual(c.roles, ['worker']);
  assert.equal(loadConfig({}, ['--rate-limit', 'false']).rateLimit, false);
  assert.equal(loadConfig({}, ['--no-rate-limit']).rateLimit, false);
});

test('bad values are refused with the option named', () => {
  assert.throws(() => loadConfig({ PORT: 'eighty' }, []), (e: Error) => e instanceof ConfigError && /port/.test(e.message));
  assert.throws(() => loadConfig({}, ['--roles', 'api,cook']), /roles/);
  assert.throws(() => loadConfig({}, ['--frobnicate', '1']), /unknown option --frobnicate/);
  assert.throws(() => loadConfig({}, ['--port']), /needs a value/);
});

test('every option is in the README configuration table', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const missing = OPTIONS.filter((o) => !readme.includes(`\`${o.flag}\``) || !readme.includes(`\`${o.env}\``)).map((o) => o.flag);
  assert.deepEqual(missing, []);
});
