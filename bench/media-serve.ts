// The server side of bench/media-upload.ts, in its own process so that its memory is measured
// alone: an Aviary on a free loopback port (PGlite in memory, media in a temporary directory, API
// only), or with MEDIA_BENCH_BARE=1 a bare node:http server that drops what it is sent (the
// baseline). Prints one JSON line {url, key, workspaceId, pid} once listening; stops on SIGTERM.
// AVIARY_* variables apply to the Aviary (e.g. AVIARY_MEDIA_MAX_BYTES for uploads over 100 MiB).
import { createServer } from 'node:http';
import { createLogger, startAviary } from '../src/app.ts';
import { loadConfig, type Config } from '../src/config.ts';

async function serveBare(): Promise<void> {
  const bare = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const { port } = bare.address() as { port: number };
  console.log(JSON.stringify({ url: `http://127.0.0.1:${port}`, key: '', workspaceId: '', pid: process.pid }));
  process.on('SIGTERM', () => process.exit(0));
}

async function serveAviary(): Promise<void> {
  const config: Config = {
    ...loadConfig(process.env),
    port: 0,
    memory: true,
    logLevel: 'warn',
    rateLimit: false,
    roles: ['api'],
    ...(process.env.MEDIA_BENCH_DIR ? { mediaDir: process.env.MEDIA_BENCH_DIR } : {}),
  };
  const aviary = await startAviary(config, createLogger(config));
  const boot = aviary.bootstrap!;
  console.log(JSON.stringify({ url: aviary.url, key: boot.accessKey, workspaceId: boot.workspace.id, pid: process.pid }));
  const stop = () => aviary.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await (process.env.MEDIA_BENCH_BARE ? serveBare() : serveAviary());
