import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { byteLimit, MediaTooLargeError } from './storage.ts';
import { checkUrl, guardedLookup, UrlGuardError } from './url-guard.ts';

// Fetches an external media URL for a connector (or to store a provider's inbound file): http(s)
// only, never to a private address (url-guard.ts, on every redirect too), at most `maxBytes` (refused
// from Content-Length when declared, cut off while streaming otherwise) and within `timeoutMs` for
// the whole exchange, body included. The body is handed over as a stream, never buffered.

export interface FetchLimits {
  maxBytes: number;
  timeoutMs: number;
  allowPrivate: boolean;
  maxRedirects?: number;
}

export interface FetchedMedia {
  url: string;
  contentType: string | undefined;
  /** Declared length, if any. */
  contentLength: number | undefined;
  /** The body, limited to maxBytes (errors with MediaTooLargeError beyond) and to the deadline. */
  stream: Readable;
}

export class MediaFetchError extends Error {}

export async function fetchMedia(raw: string, limits: FetchLimits): Promise<FetchedMedia> {
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  let url = raw;
  for (let hop = 0; ; hop++) {
    const res = await get(url, limits, deadline);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= (limits.maxRedirects ?? 3)) throw new MediaFetchError('too many redirects');
      url = new URL(res.headers.location, url).toString();
      continue;
    }
    if (status < 200 || status >= 300) {
      res.resume();
      throw new MediaFetchError(`answered HTTP ${status}`);
    }
    const declared = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;
    if (declared !== undefined && declared > limits.maxBytes) {
      res.destroy();
      throw new MediaTooLargeError(limits.maxBytes);
    }
    const limited = byteLimit(limits.maxBytes);
    const onAbort = () => limited.destroy(new MediaFetchError(`took longer than ${limits.timeoutMs} ms`));
    deadline.addEventListener('abort', onAbort, { once: true });
    res.on('error', (err) => limited.destroy(err));
    limited.on('close', () => deadline.removeEventListener('abort', onAbort));
    res.pipe(limited);
    return { url, contentType: res.headers['content-type'], contentLength: declared, stream: limited };
  }
}

function get(raw: string, limits: FetchLimits, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = checkUrl(raw, limits.allowPrivate);
    } catch (err) {
      return reject(err);
    }
    if (signal.aborted) return reject(new MediaFetchError(`took longer than ${limits.timeoutMs} ms`));
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', lookup: guardedLookup(limits.allowPrivate) as never, headers: { accept: '*/*', 'user-agent': 'Aviary media fetcher' } });
    const onAbort = () => req.destroy(new MediaFetchError(`took longer than ${limits.timeoutMs} ms`));
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('response', (res) => {
      signal.removeEventListener('abort', onAbort);
      resolve(res);
    });
    req.on('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(err instanceof UrlGuardError || err instanceof MediaFetchError ? err : new MediaFetchError(`could not be reached (${(err as NodeJS.ErrnoException).code ?? err.message})`));
    });
    req.end();
  });
}

/** A short reason for a failed fetch, for a 422 detail or a failure description. */
export function describeFetchError(err: unknown): string {
  if (err instanceof MediaTooLargeError) return `is larger than ${err.limit} bytes`;
  if (err instanceof UrlGuardError) return err.message;
  if (err instanceof MediaFetchError) return `could not be fetched: ${err.message}`;
  return `could not be fetched: ${(err as Error).message}`;
}
