import { ConfigError } from '../config.ts';
import { DataDirLockedError } from '../db/data-dir-lock.ts';
import { main } from './main.ts';

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    const expected = err instanceof ConfigError || err instanceof DataDirLockedError || /cannot connect to PostgreSQL/.test(String(err?.message));
    process.stderr.write(`aviary: ${expected ? err.message : (err?.stack ?? err)}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  },
);
