import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

// Two processes on one PGlite directory each believe they own the database and silently lose each
// other's writes, so the directory is locked with an O_EXCL file naming its owner. A lock left by a
// process that no longer runs (same host, pid gone) is taken over; on another host we cannot tell,
// so we refuse and say how to clear it.

export class DataDirLockedError extends Error {}

interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
}

export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'aviary.lock');
  const me: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readOwner(path);
      if (owner && owner.host === me.host && !isAlive(owner.pid)) {
        rmSync(path, { force: true });
        continue;
      }
      const who = owner ? `process ${owner.pid} on ${owner.host}, running since ${owner.startedAt}` : 'another process';
      throw new DataDirLockedError(
        `data directory ${dir} is in use by ${who}. Stop that process, or use another --data-dir ` +
          `(or DATABASE_URL to share one PostgreSQL between processes). If no such process exists, delete ${path}.`,
      );
    }
  }
  throw new DataDirLockedError(`could not lock data directory ${dir}`);
}

function readOwner(path: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
