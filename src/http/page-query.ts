import type { ErrorDetails } from '../errors.ts';
import { parsePageToken, type PageRequest, type Position } from '../db/keyset-page.ts';
import { singleParam, type Query } from './query.ts';

// The one reader of `limit`, `pageToken` and `reverse`, so that every list answers the same bad
// value with the same 400 and the same details. Lists differ only in their default and largest
// page (Bird: messages and channels up to 1000, most others up to 100).

export interface PageRules {
  defaultLimit: number;
  maxLimit: number;
}

/**
 * Reads the page parameters; problems are added to `details` so that the route reports them with
 * its own filters in one 400. `decode` reads a token for lists whose position is not (createdAt, id).
 */
export function readPageQuery<P = Position>(
  q: Query,
  rules: PageRules,
  details: ErrorDetails,
  decode: (token: string) => P | undefined = parsePageToken as (token: string) => P | undefined,
): PageRequest<P> {
  const limitRaw = singleParam(q, 'limit', details);
  let limit = rules.defaultLimit;
  if (limitRaw !== undefined) {
    const n = Number(limitRaw);
    if (!/^\d+$/.test(limitRaw) || n < 1 || n > rules.maxLimit) details.limit = [`must be an integer from 1 to ${rules.maxLimit}`];
    else limit = n;
  }
  const reverseRaw = singleParam(q, 'reverse', details);
  if (reverseRaw !== undefined && !['true', 'false', ''].includes(reverseRaw)) details.reverse = ['must be true or false'];
  const token = singleParam(q, 'pageToken', details);
  let after: P | undefined;
  if (token) {
    after = decode(token);
    if (after === undefined) details.pageToken = ['is not a valid page token'];
  }
  return { limit, reverse: reverseRaw === 'true' || reverseRaw === '', after };
}
