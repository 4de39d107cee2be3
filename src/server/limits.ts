import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { ACCEPT_CONNECTIONS } from '../db/database.ts';
import { errors } from '../errors.ts';
import { UPLOAD_PATH } from '../media/service.ts';

// What a slow or idle client may hold, and for how long (docs/operations.md). Node enforces the
// header timeout and keep-alive; the whole-request timeout is enforced here per request, because
// Node's own requestTimeout is server-wide and would cut off a large upload to POST /media, which
// has a byte-rate floor instead (media/upload.ts). Node's requestTimeout stays on as the backstop
// at the longest anything may take.

/** Used when the open-file limit cannot be read (not Linux): the common default soft limit. */
const FALLBACK_OPEN_FILES = 1024;
/** File descriptors kept for everything that is not a client connection: data files, media, DNS, logs. */
const FILES_HEADROOM = 256;
const MIN_CONNECTIONS = 32;

/** The soft RLIMIT_NOFILE of this process (`ulimit -n`), read once: Node has no API for it. */
export function openFileSoftLimit(limitsFile = '/proc/self/limits'): number {
  try {
    const line = readFileSync(limitsFile, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === 'unlimited') return Number.MAX_SAFE_INTEGER;
    const n = Number(soft);
    return Number.isInteger(n) && n > 0 ? n : FALLBACK_OPEN_FILES;
  } catch {
    return FALLBACK_OPEN_FILES;
  }
}

/**
 * The connection cap when none is configured: what the open-file limit leaves after the database
 * connections, the webhook sockets of a worker and a fixed headroom for files.
 * Staying below the limit is what matters: at the limit accept() fails with EMFILE and every client,
 * /health included, waits; below it, connections over the cap are closed at once and the rest work.
 */
export function defaultMaxConnections(config: Config, softLimit = openFileSoftLimit()): number {
  // The pool, its LISTEN connection, a worker's claims connection and an API's accept connections
  // (db/database.ts).
  const pool = config.databaseUrl
    ? config.pgPoolSize + 1 + (config.roles.includes('worker') ? 1 : 0) + (config.roles.includes('api') ? ACCEPT_CONNECTIONS : 0)
    : 0;
  const webhooks = config.roles.includes('worker') ? config.webhookConcurrency : 0;
  return Math.max(MIN_CONNECTIONS, softLimit - pool - webhooks - FILES_HEADROOM);
}

export function maxConnections(config: Config): number {
  return config.httpMaxConnections ?? defaultMaxConnections(config);
}

/** Fastify and Node server options for the timeouts. */
export function timeoutOptions(config: Config): Pick<FastifyServerOptions, 'keepAliveTimeout' | 'requestTimeout'> & { http: ServerOptions } {
  const headers = config.httpHeadersTimeoutMs;
  return {
    keepAliveTimeout: config.httpKeepAliveTimeoutMs,
    // Both timeouts below are counted from the end of the headers, Node's from the request's start.
    requestTimeout: headers + Math.max(config.httpRequestTimeoutMs, config.mediaUploadTimeoutMs),
    http: {
      headersTimeout: headers,
      // Node checks header and request deadlines on this timer (30 s by default, which would let a
      // 10 s header timeout run to 40 s); a scan of the open requests every second at most is cheap.
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(headers / 4))),
    },
  };
}

/**
 * Caps the open connections: Node closes a connection over the cap as soon as it is accepted. The
 * drops are logged once a minute at most, with their count, so an attack does not flood the log.
 */
export function limitConnections(app: FastifyInstance, config: Config, log: Logger): number {
  const max = maxConnections(config);
  app.server.maxConnections = max;
  let dropped = 0;
  let lastWarning = 0;
  app.server.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now - lastWarning < 60_000) return;
    log.warn({ maxConnections: max, dropped }, 'connections over --http-max-connections closed at once');
    lastWarning = now;
    dropped = 0;
  });
  return max;
}

/**
 * The whole-request timeout: a request whose body has not fully arrived within httpRequestTimeoutMs
 * of its start is answered 408 and its connection closed. The answer is written to the socket as
 * Node does for its own timeouts, since Fastify may still be reading the body.
 */
export function installRequestTimeout(app: FastifyInstance, config: Config): void {
  const limit = config.httpRequestTimeoutMs;
  app.addHook('onRequest', (request, reply, done) => {
    const req = request.raw;
    if (req.complete || (request.method === 'POST' && request.routeOptions.url === UPLOAD_PATH)) return done();
    const timer = setTimeout(() => {
      if (req.complete) return;
      request.log.info({ method: request.method, path: request.url.split('?')[0], ms: limit }, 'request timed out');
      writeTimeoutAndClose(req.socket, reply.raw.headersSent);
    }, limit);
    timer.unref();
    // Answered early (a 401 before the body, say), the rest of the body is still read: the timer
    // keeps running until it is in, or a client could trickle it for as long as it likes.
    req.once('end', () => clearTimeout(timer));
    reply.raw.once('close', () => {
      if (req.complete) clearTimeout(timer);
    });
    done();
  });
}

/** How long a timed-out connection may stay half-closed so that the client can read the 408. */
const LINGER_MS = 1_000;

function writeTimeoutAndClose(socket: Socket, headersSent: boolean): void {
  if (headersSent || !socket.writable) return void socket.destroy();
  const body = JSON.stringify(errors.requestTimeout().toBody());
  // Half-closed rather than destroyed: closing a socket with unread input sends a reset, and the
  // client may lose the answer with it. A client that does not close its side is cut off shortly.
  socket.end(`HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
