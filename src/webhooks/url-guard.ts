import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

// Where webhooks may go. Bird accepts only https URLs with a domain name. Aviary, as an emulator,
// also accepts http, IP addresses and hosts on loopback or private networks when the operator allows
// it (`webhookAllowPrivateUrls`, on by default for local development). With it off (production):
//   - at creation and update, the URL must be https with a domain name (Bird's pattern), and must not
//     resolve to a non-public address;
//   - at every delivery, the address actually connected to is checked again (the lookup below), so a
//     name that later resolves to 127.0.0.1 or 10.x (DNS rebinding) is refused, not called.

// Bird's own pattern for subscription URLs.
const BIRD_URL = /^https:\/\/([a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}(\/[^\s]*)?$/;
export const MAX_URL_LENGTH = 2048;

// Addresses that are not on the public internet (IANA special-purpose registries).
const NON_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NON_PUBLIC.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  NON_PUBLIC.addSubnet(net, bits, 'ipv6');
}

/** True for loopback, private, link-local, shared, documentation, multicast and reserved addresses. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return NON_PUBLIC.check(address, 'ipv4');
  if (family !== 6) return true;
  const lower = address.toLowerCase();
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses carry an IPv4 address.
  const embedded = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (embedded) return NON_PUBLIC.check(embedded[1], 'ipv4');
  const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (mappedHex) {
    const hi = parseInt(mappedHex[1], 16);
    const lo = parseInt(mappedHex[2], 16);
    return NON_PUBLIC.check(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, 'ipv4');
  }
  return NON_PUBLIC.check(address, 'ipv6');
}

export type Resolver = (hostname: string) => Promise<string[]>;

/** The system resolver, given at most 3 s (a request waiting on a slow DNS server is not kept waiting). */
export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error(`DNS lookup of ${hostname} timed out`), { code: 'ETIMEOUT' })), 3000);
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(addresses.map((a) => a.address));
    });
  });

/** The URL's problems as a subscription URL, or [] when it is acceptable. */
export async function checkSubscriptionUrl(raw: string, allowPrivate: boolean, resolve: Resolver = systemResolver): Promise<string[]> {
  if (raw.length > MAX_URL_LENGTH) return [`must be at most ${MAX_URL_LENGTH} characters`];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return ['must be a valid URL'];
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return ['must be an http or https URL'];
  if (url.username || url.password) return ['must not contain credentials'];
  if (url.hash) return ['must not contain a fragment'];
  if (allowPrivate) return [];
  if (url.protocol !== 'https:') return ['must be an https URL'];
  if (!BIRD_URL.test(raw)) return ['must be an https URL with a domain name (https://example.com/path)'];
  let addresses: string[];
  try {
    addresses = await resolve(hostOf(url));
  } catch {
    // A name that does not resolve yet is not refused; it is checked again at every delivery.
    return [];
  }
  if (addresses.some(isNonPublicAddress)) return ['resolves to a private, loopback or otherwise non-public address'];
  return [];
}

/** The host name of a URL without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

export class AddressNotAllowedError extends Error {
  readonly code = 'EADDRNOTALLOWED';
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, which is not a public address (webhookAllowPrivateUrls is off)`);
  }
}

/** Why a delivery to this URL must not be attempted before any lookup (scheme, IP literal), if it must not. */
export function deliveryRefusal(url: URL, allowPrivate: boolean): string | undefined {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `unsupported protocol ${url.protocol}`;
  if (allowPrivate) return undefined;
  if (url.protocol !== 'https:') return 'only https URLs are allowed (webhookAllowPrivateUrls is off)';
  const host = hostOf(url);
  if (isIP(host)) return `IP address URLs are not allowed (webhookAllowPrivateUrls is off)`;
  return undefined;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for outgoing sockets that refuses non-public addresses: the address checked is the one
 * connected to, so a DNS answer cannot change between the check and the connection.
 */
export function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => isNonPublicAddress(a.address));
    if (bad) return callback(new AddressNotAllowedError(hostname, bad.address), []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}
