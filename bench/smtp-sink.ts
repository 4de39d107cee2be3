// An SMTP sink for bench/email.ts: accepts every mail and keeps nothing but a count. It runs in a
// process of its own (forked, counted over IPC) so that it does not share an event loop with the
// load generator: in the bench's own process its replies waited behind autocannon, and the run
// measured that wait instead of Aviary (a real relay is another process too).

import { fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';

export interface Sink { port: number; count: () => Promise<number>; close: () => Promise<void> }

export function startSink(): Promise<Sink> {
  const child = fork(fileURLToPath(import.meta.url), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let pending: ((n: number) => void) | undefined;
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (m: { port?: number; count?: number }) => {
      if (m.port !== undefined) {
        resolve({
          port: m.port,
          count: () => new Promise<number>((r) => { pending = r; child.send('count'); }),
          close: () => new Promise<void>((r) => { child.once('exit', () => r()); child.kill('SIGTERM'); }),
        });
      } else if (m.count !== undefined) pending?.(m.count);
    });
  });
}

if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  let n = 0;
  const server = new SMTPServer({
    authOptional: true, logger: false, disabledCommands: ['STARTTLS', 'AUTH'],
    onData(stream, _s, cb) {
      stream.on('data', () => {});
      stream.on('end', () => { n++; cb(); });
    },
  });
  server.on('error', () => {});
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.server.address() as AddressInfo).port }));
  process.on('message', () => process.send!({ count: n }));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
  process.on('disconnect', () => process.exit(0));
}
