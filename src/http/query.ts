import type { ErrorDetails } from '../errors.ts';

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

/** The values of a parameter that may repeat (`?attribute=a&attribute=b`). */
export function repeatedParam(q: Query, key: string): string[] {
  const v = q[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
