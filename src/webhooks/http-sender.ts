import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { deliveryRefusal, guardedLookup, hostOf } from './url-guard.ts';
import { birdSignature, standardWebhooksSignature } from './sign.ts';

// One HTTP attempt of one delivery: sign, POST, read the answer. Connections are pooled and kept
// alive per origin (node's Agent), so a busy subscriber is reached over a handful of warm sockets.

export interface Request {
  id: string;
  createdAt: Date;
  body: string;
  url: string;
  signingKey: string;
  standardWebhooks: boolean;
}

export interface AttemptResult {
  at: Date;
  url: string;
  /** Null when no request was made. */
  signatures: Signatures | null;
  httpStatusCode: number | null;
  responseBody: string | null;
  durationMs: number;
  error: string | null;
  /** From Retry-After on a 429 or 503. */
  retryAfterMs?: number;
  /** The attempt was cut short because the worker is stopping: not an outcome to record. */
  aborted?: boolean;
}

export interface SenderOptions {
  timeoutMs: number;
  /** Kept-alive connections per origin. */
  maxSockets: number;
  allowPrivateUrls: boolean;
}

/** How much of a response body is kept in the log. */
export const RESPONSE_EXCERPT_BYTES = 1024;
/** Response bytes read at most; a longer answer's connection is closed instead of drained. */
const MAX_RESPONSE_BYTES = 256 * 1024;

const VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0';
  } catch {
    return '0';
  }
})();
export const USER_AGENT = `Aviary-Webhooks/${VERSION}`;

export interface Signatures {
  bird: string;
  standard?: string;
}

export function sign(r: Request): Signatures {
  const timestamp = String(Math.floor(r.createdAt.getTime() / 1000));
  const bird = birdSignature(r.signingKey, timestamp, r.url, r.body);
  return r.standardWebhooks ? { bird, standard: standardWebhooksSignature(r.signingKey, r.id, timestamp, r.body) } : { bird };
}

/**
 * The headers a delivery is sent with: the same on every attempt while the subscription's URL and key
 * are unchanged. Logs keep only the signatures and rebuild the rest from the request.
 */
export function requestHeaders(r: { id: string; createdAt: Date; bodyLength: number }, sig: Signatures): Record<string, string> {
  const timestamp = String(Math.floor(r.createdAt.getTime() / 1000));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(r.bodyLength),
    'user-agent': USER_AGENT,
    'messagebird-signature': sig.bird,
    'messagebird-request-timestamp': timestamp,
    'messagebird-request-id': r.id,
  };
  if (sig.standard) {
    headers['webhook-id'] = r.id;
    headers['webhook-timestamp'] = timestamp;
    headers['webhook-signature'] = sig.standard;
  }
  return headers;
}

export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

interface Target {
  secure: boolean;
  refusal: string | undefined;
  options: http.RequestOptions;
}

interface PostResult {
  status: number | null;
  body: string | null;
  error: string | null;
  retryAfterMs?: number;
  staleSocket?: boolean;
  aborted?: boolean;
}

interface InFlight {
  deadline: number;
  req: http.ClientRequest | undefined;
  settled: boolean;
  gotSocket: boolean;
  gotResponse: boolean;
  resolve: (result: PostResult) => void;
}

const ABORTED: PostResult = { status: null, body: null, error: 'aborted: the worker is stopping', aborted: true };

export class HttpSender {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly targets = new Map<string, Target>();
  private readonly inFlight = new Set<InFlight>();
  private sweeper: NodeJS.Timeout | undefined;
  private aborted = false;

  constructor(private readonly opts: SenderOptions) {
    const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets, scheduling: 'lifo' as const, timeout: 60_000 };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  async send(r: Request): Promise<AttemptResult> {
    const at = new Date();
    let target: Target;
    try {
      target = this.target(r.url);
    } catch {
      return { at, url: r.url, signatures: null, httpStatusCode: null, responseBody: null, durationMs: 0, error: 'not sent: the subscription URL is not a valid URL' };
    }
    if (target.refusal) return { at, url: r.url, signatures: null, httpStatusCode: null, responseBody: null, durationMs: 0, error: `not sent: ${target.refusal}` };
    const signatures = sign(r);
    const headers = requestHeaders({ id: r.id, createdAt: r.createdAt, bodyLength: Buffer.byteLength(r.body) }, signatures);
    const started = performance.now();
    let result = await this.post(target, headers, r.body);
    // A kept-alive socket the server closed at the same moment fails before any answer: try once more
    // on a fresh one (what node's documentation recommends), instead of waiting for the retry schedule.
    if (result.staleSocket) result = await this.post(target, headers, r.body);
    return {
      at,
      url: r.url,
      signatures,
      httpStatusCode: result.status,
      responseBody: result.body,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      error: result.error,
      retryAfterMs: result.retryAfterMs,
      aborted: result.aborted,
    };
  }

  /** Request options per subscription URL, parsed once. */
  private target(raw: string): Target {
    let t = this.targets.get(raw);
    if (!t) {
      const url = new URL(raw);
      const secure = url.protocol === 'https:';
      t = {
        secure,
        refusal: deliveryRefusal(url, this.opts.allowPrivateUrls),
        options: {
          protocol: url.protocol,
          hostname: hostOf(url),
          port: url.port || undefined,
          path: url.pathname + url.search,
          method: 'POST',
          agent: secure ? this.httpsAgent : this.httpAgent,
          ...(this.opts.allowPrivateUrls ? {} : { lookup: guardedLookup }),
        },
      };
      if (this.targets.size > 10_000) this.targets.clear();
      this.targets.set(raw, t);
    }
    return t;
  }

  private post(target: Target, headers: Record<string, string>, body: string): Promise<PostResult> {
    return new Promise((resolve) => {
      const entry: InFlight = { deadline: Date.now() + this.opts.timeoutMs, req: undefined, settled: false, gotSocket: false, gotResponse: false, resolve };
      const req = (target.secure ? https : http).request({ ...target.options, headers }, (res) => this.onResponse(entry, res));
      entry.req = req;
      req.once('socket', () => (entry.gotSocket = true));
      req.on('error', (err: NodeJS.ErrnoException) => {
        const stale = !entry.gotResponse && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        this.settle(entry, { status: null, body: null, error: err.message || String(err.code ?? err), staleSocket: stale });
      });
      if (this.aborted) return this.cancel(entry, ABORTED);
      this.inFlight.add(entry);
      if (!this.sweeper) this.startSweeper();
      req.end(body);
    });
  }

  private onResponse(entry: InFlight, res: http.IncomingMessage): void {
    entry.gotResponse = true;
    const status = res.statusCode ?? 0;
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after'], Date.now()) : undefined;
    let excerpt: Buffer | undefined;
    let total = 0;
    const finish = () => this.settle(entry, { status, body: excerpt ? excerpt.toString('utf8') : '', error: null, retryAfterMs });
    res.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (!excerpt) excerpt = chunk.length > RESPONSE_EXCERPT_BYTES ? chunk.subarray(0, RESPONSE_EXCERPT_BYTES) : chunk;
      else if (excerpt.length < RESPONSE_EXCERPT_BYTES) excerpt = Buffer.concat([excerpt, chunk]).subarray(0, RESPONSE_EXCERPT_BYTES);
      if (total > MAX_RESPONSE_BYTES) {
        res.destroy();
        finish();
      }
    });
    res.on('end', finish);
    res.on('error', finish);
  }

  private settle(entry: InFlight, result: PostResult): void {
    if (entry.settled) return;
    entry.settled = true;
    this.inFlight.delete(entry);
    entry.resolve(result);
  }

  private cancel(entry: InFlight, result: PostResult): void {
    entry.req?.destroy();
    this.settle(entry, result);
  }

  // Timeouts: one timer sweeps every attempt in flight (a timer per request costs more at these rates).
  private startSweeper(): void {
    const every = Math.max(10, Math.min(250, Math.floor(this.opts.timeoutMs / 10)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const entry of this.inFlight) {
        if (entry.deadline <= now) {
          const waited = entry.gotSocket ? '' : ' waiting for a connection (all of this origin\'s connections were busy)';
          this.cancel(entry, { status: null, body: null, error: `timed out after ${this.opts.timeoutMs} ms${waited}` });
        }
      }
      if (this.inFlight.size === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, every);
    this.sweeper.unref();
  }

  /** Cuts every attempt in flight short (they report `aborted`). */
  abortAll(): void {
    this.aborted = true;
    for (const entry of [...this.inFlight]) this.cancel(entry, ABORTED);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
