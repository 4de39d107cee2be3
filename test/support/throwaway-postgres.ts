import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

// A PostgreSQL cluster of a test's own, for tests that stop, restart or break the server: never do
// that to the shared one. initdb into a temporary directory, listen on a free loopback port and on a
// unix socket in that directory, fsync off (throwaway data). initdb refuses to run as root, so as
// root the binaries run as the `postgres` user and the directory belongs to it.
//
//   const pgc = await startThrowawayPostgres();  // or a string: why it cannot run here (skip the test)
//   ...; await pgc.restart({ downMs: 1000 }); ...; await pgc.stop();
//
// stop() also runs when the test process exits without calling it, so a failing test leaves no
// server behind.

export interface ThrowawayPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  dir: string;
  /** Runs SQL as the superuser on a connection of its own. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Stops the server ("fast": sessions are terminated, 57P01), optionally stays down `downMs`, starts it again. */
  restart(opts?: { downMs?: number; whileDown?: () => Promise<void> }): Promise<void>;
  /** Stops the server without starting it again. */
  halt(): Promise<void>;
  /** Starts a halted server. */
  start(): Promise<void>;
  /** Stops the server and deletes its directory. */
  stop(): Promise<void>;
}

/** Where the PostgreSQL server binaries are (AVIARY_TEST_PG_BIN, else the newest /usr/lib/postgresql/N/bin). */
export function findPostgresBinaries(): string | undefined {
  const candidates = [process.env.AVIARY_TEST_PG_BIN];
  try {
    const versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch {
    /* not a Debian-style install */
  }
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    /* no pg_config on PATH */
  }
  return candidates.find((d): d is string => !!d && existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
}

/** Starts a fresh cluster, or returns why it cannot (a one-line reason to skip with). */
export async function startThrowawayPostgres(): Promise<ThrowawayPostgres | string> {
  const bin = findPostgresBinaries();
  if (!bin) return 'PostgreSQL server binaries (initdb, pg_ctl) not found; set AVIARY_TEST_PG_BIN';
  const asRoot = process.getuid?.() === 0;
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (id.status !== 0) return 'running as root and there is no postgres user to run initdb as';
    owner = { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'aviary-pg-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  // As root, `runuser -u postgres`; cwd is the cluster's directory, which that user can enter.
  const command = (tool: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
  const env = { ...process.env, LC_ALL: 'C' };
  // Asynchronous, so that the test's own load keeps running while the server stops and starts.
  const run = async (tool: string, args: string[]) => {
    try {
      await promisify(execFile)(...command(tool, args), { cwd: dir, env });
    } catch (err) {
      const e = err as { code?: number; stderr?: string; stdout?: string };
      throw new Error(`${tool} ${args.join(' ')} failed (${e.code}): ${e.stderr || e.stdout}`);
    }
  };
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  let running = false;
  const pgStart = async () => {
    await run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start']);
    running = true;
  };
  const pgStop = async () => {
    if (!running) return;
    running = false;
    await run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
  };
  // Synchronous, so that it also works from an 'exit' handler.
  const onExit = () => {
    if (running) {
      running = false;
      spawnSync(...command('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']), { cwd: dir, env });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    await pgStart();
  } catch (err) {
    onExit();
    return `cannot start a throwaway PostgreSQL: ${(err as Error).message.split('\n')[0]}`;
  }
  process.once('exit', onExit);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    dir,
    async query(text, values) {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => {}); // the server may be stopped under it
      await c.connect();
      try {
        return await c.query(text, values);
      } finally {
        await c.end().catch(() => {});
      }
    },
    async restart(opts = {}) {
      await pgStop();
      const until = Date.now() + (opts.downMs ?? 0);
      await opts.whileDown?.();
      if (Date.now() < until) await new Promise((r) => setTimeout(r, until - Date.now()));
      await pgStart();
    },
    halt: pgStop,
    async start() {
      if (!running) await pgStart();
    },
    async stop() {
      process.removeListener('exit', onExit);
      onExit();
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
