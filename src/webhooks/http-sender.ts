import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { deliveryRefusal, guardedLookup } from './url-guard.ts';
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

export class HttpSender {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly urls = new Map<string, URL>();
  /** Cancels each attempt in flight (stop). */
  private readonly inFlight = new Set<() => void>();
  private aborted = false;

  constructor(private readonly opts: SenderOptions) {
    const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets, scheduling: 'lifo' as const, timeout: 60_000 };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  private parse(raw: string): URL {
    let url = this.urls.get(raw);
    if (!url) {
      url = new URL(raw);
      if (this.urls.size > 10_000) this.urls.clear();
      this.urls.set(raw, url);
    }
    return url;
  }

  async send(r: Request): Promise<AttemptResult> {
    const at = new Date();
    const none = { at, url: r.url, signatures: null, httpStatusCode: null, responseBody: null, durationMs: 0 };
    let url: URL;
    try {
      url = this.parse(r.url);
    } catch {
      return { ...none, error: 'not sent: the subscription URL is not a valid URL' };
    }
    const refusal = deliveryRefusal(url, this.opts.allowPrivateUrls);
    if (refusal) return { ...none, error: `not sent: ${refusal}` };
    const signatures = sign(r);
    const headers = requestHeaders({ id: r.id, createdAt: r.createdAt, bodyLength: Buffer.byteLength(r.body) }, signatures);
    const base = { at, url: r.url, signatures };
    const started = performance.now();
    let result = await this.post(url, headers, r.body);
    // A kept-alive socket the server closed at the same moment fails before any answer: try once more
    // on a fresh one (what node's documentation recommends), instead of waiting for the retry schedule.
    if (result.staleSocket) result = await this.post(url, headers, r.body);
    return {
      ...base,
      httpStatusCode: result.status,
      responseBody: result.body,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      error: result.error,
      retryAfterMs: result.retryAfterMs,
      aborted: result.aborted,
    };
  }

  private post(
    url: URL,
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number | null; body: string | null; error: string | null; retryAfterMs?: number; staleSocket?: boolean; aborted?: boolean }> {
    return new Promise((resolve) => {
      const secure = url.protocol === 'https:';
      let settled = false;
      let gotResponse = false;
      const done = (v: Parameters<typeof resolve>[0]) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight.delete(onAbort);
        resolve(v);
      };
      const req = (secure ? https : http).request(
        {
          protocol: url.protocol,
          hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
          port: url.port || undefined,
          path: url.pathname + url.search,
          method: 'POST',
          headers,
          agent: secure ? this.httpsAgent : this.httpAgent,
          ...(this.opts.allowPrivateUrls ? {} : { lookup: guardedLookup }),
        },
        (res) => {
          gotResponse = true;
          const status = res.statusCode ?? 0;
          const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after'], Date.now()) : undefined;
          const chunks: Buffer[] = [];
          let kept = 0;
          let total = 0;
          res.on('data', (chunk: Buffer) => {
            total += chunk.length;
            if (kept < RESPONSE_EXCERPT_BYTES) {
              chunks.push(chunk.subarray(0, RESPONSE_EXCERPT_BYTES - kept));
              kept += Math.min(chunk.length, RESPONSE_EXCERPT_BYTES - kept);
            }
            if (total > MAX_RESPONSE_BYTES) {
              res.destroy();
              finish();
            }
          });
          const finish = () => done({ status, body: kept ? Buffer.concat(chunks).toString('utf8') : '', error: null, retryAfterMs });
          res.on('end', finish);
          res.on('error', finish);
          res.on('aborted', finish);
        },
      );
      const onAbort = () => {
        req.destroy();
        done({ status: null, body: null, error: 'aborted: the worker is stopping', aborted: true });
      };
      const timer = setTimeout(() => {
        req.destroy();
        done({ status: null, body: null, error: `timed out after ${this.opts.timeoutMs} ms` });
      }, this.opts.timeoutMs);
      if (this.aborted) return onAbort();
      this.inFlight.add(onAbort);
      req.on('error', (err: NodeJS.ErrnoException) => {
        const stale = !gotResponse && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        done({ status: null, body: null, error: err.message || String(err.code ?? err), staleSocket: stale });
      });
      req.end(body);
    });
  }

  /** Cuts every attempt in flight short (they report `aborted`). */
  abortAll(): void {
    this.aborted = true;
    for (const abort of [...this.inFlight]) abort();
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
