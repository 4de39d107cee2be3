import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { isNonPublicAddress } from '../webhooks/url-guard.ts';

// Keeps server-side fetches of user-supplied URLs (external media) away from this machine and its
// private networks: only http(s), and only hosts whose every address is public. The check runs on
// the addresses the connection actually uses (a `lookup` for node:http), so a name that resolves to
// a public address when checked and to a private one when connecting (DNS rebinding) is caught too.
// The address list is shared with webhook delivery; what differs here is the operator's
// allow-private switch and the http(s)-only, no-localhost checks on the URL itself.

/** One list of non-public addresses for every outbound fetch: the webhooks' (src/webhooks/url-guard.ts). */
export const isPrivateAddress = isNonPublicAddress;

export class UrlGuardError extends Error {}

/** Checks what can be checked without resolving: scheme, and a literal address in the URL. */
export function checkUrl(raw: string, allowPrivate: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlGuardError('is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UrlGuardError(`uses ${url.protocol.replace(':', '')}; only http and https are fetched`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && isIP(host) && isPrivateAddress(host)) throw new UrlGuardError(`points to a private address (${host})`);
  if (!allowPrivate && /^localhost\.?$/i.test(host)) throw new UrlGuardError('points to localhost');
  return url;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for node:http that refuses names resolving to any private address. */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses) => {
      if (err) return callback(err, options.all ? [] : '');
      const list = addresses as LookupAddress[];
      const bad = allowPrivate ? undefined : list.find((a) => isPrivateAddress(a.address));
      if (bad) return callback(new UrlGuardError(`points to a private address (${hostname} is ${bad.address})`) as NodeJS.ErrnoException, options.all ? [] : '');
      if (list.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), options.all ? [] : '');
      if (options.all) callback(null, list);
      else callback(null, list[0].address, list[0].family);
    });
  };
}
