import { errors, type ErrorDetails } from '../errors.ts';
import { decodePageToken, type Position } from './page-token.ts';

/** A parsed query string: repeated keys arrive as arrays. */
export type Query = Record<string, string | string[] | undefined>;

/** The value of a parameter that may be given once; a repeat is recorded in `details` (a 400 later). */
export function singleParam(q: Query, key: string, details: ErrorDetails): string | undefined {
  const v = q[key];
  if (Array.isArray(v)) {
    details[key] = ['must be given once'];
    return undefined;
  }
  return v;
}

/**
 * Bird's paging parameters: `limit` (1..maxLimit, default 10), `pageToken` and `reverse` (an empty
 * `?reverse` means true). Problems go to `details`; the token is decoded once they are known to be none.
 */
export function pageParams(
  q: Query,
  details: ErrorDetails,
  maxLimit = 100,
): { limit: number; reverse: boolean; after?: Position } {
  const limitRaw = singleParam(q, 'limit', details);
  let limit = 10;
  if (limitRaw !== undefined) {
    if (!/^\d+$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > maxLimit) details.limit = [`must be an integer from 1 to ${maxLimit}`];
    else limit = Number(limitRaw);
  }
  const reverseRaw = singleParam(q, 'reverse', details);
  if (reverseRaw !== undefined && !['true', 'false', ''].includes(reverseRaw)) details.reverse = ['must be true or false'];
  const pageToken = singleParam(q, 'pageToken', details);
  if (Object.keys(details).length) throw errors.invalidQuery(details);
  return { limit, reverse: reverseRaw === 'true' || reverseRaw === '', after: pageToken ? decodePageToken(pageToken) : undefined };
}

export interface PageParams {
  limit: number;
  pageToken?: string;
  reverse: boolean;
}

/** Bird's paging parameters: `limit` (1..max), `pageToken`, `reverse` (true/false). Problems go to `details`. */
export function pageParamsWithToken(q: Query, details: ErrorDetails, o: { defaultLimit?: number; max?: number } = {}): PageParams {
  const max = o.max ?? 100;
  const limitRaw = singleParam(q, 'limit', details);
  const pageToken = singleParam(q, 'pageToken', details);
  const reverseRaw = singleParam(q, 'reverse', details);
  const limit = limitRaw === undefined ? (o.defaultLimit ?? 10) : Number(limitRaw);
  if (limitRaw !== undefined && (!/^\d+$/.test(limitRaw) || limit < 1 || limit > max)) details.limit = [`must be an integer from 1 to ${max}`];
  if (reverseRaw !== undefined && !['true', 'false', ''].includes(reverseRaw)) details.reverse = ['must be true or false'];
  return { limit, pageToken: pageToken || undefined, reverse: reverseRaw === 'true' || reverseRaw === '' };
}

/** The values of a parameter that may repeat (`?attribute=a&attribute=b`). */
export function repeatedParam(q: Query, key: string): string[] {
  const v = q[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
