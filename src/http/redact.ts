// What of a request may be written to the log. Keys belong in the Authorization header, but clients
// put credentials in query strings too (`?access_key=...`, a media link's `signature`), and a log
// line is read by more people than the API is: every query value is replaced, the parameter names
// stay so a log line still says which filters a request used.

const MARK = '[redacted]';

/** The URL's path with the values of its query parameters replaced. */
export function logPath(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url.slice(q + 1);
  if (query === '') return url.slice(0, q);
  const names = query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    return eq < 0 ? pair : `${pair.slice(0, eq)}=${MARK}`;
  });
  return `${url.slice(0, q)}?${names.join('&')}`;
}

/** pino serializer for `req` (Fastify's request or Node's): never headers, never query values. */
export function serializeRequest(req: { method?: string; url?: string; ip?: string; socket?: { remoteAddress?: string } }): Record<string, unknown> {
  return { method: req.method, url: req.url === undefined ? undefined : logPath(req.url), remoteAddress: req.ip ?? req.socket?.remoteAddress };
}

/** pino redaction paths: an Authorization header wherever a headers object is logged. */
export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.raw.headers.authorization',
  'request.raw.headers.authorization',
];
