import { sql, type Expression, type SqlBool } from 'kysely';
import { isUuid } from '../ids.ts';

// Keyset pagination, the one way every list pages. Bird's page tokens are base64 of
// `["<createdAt>","<id>"]`; ours are the same, so a token is the position of the last row returned
// and the next page starts strictly after it: stable while rows are added, and as fast on page
// 10,000 as on page 1, provided an index leads with (workspace_id, ..., created_at, id).

export interface Position {
  createdAt: Date;
  id: string;
}

/** What a list endpoint asks the store for (http/page-query.ts reads it from the query string). */
export interface PageRequest<P = Position> {
  limit: number;
  /** Bird's `reverse`: the other direction from the list's natural order. */
  reverse: boolean;
  after?: P;
}

export function encodePageToken(p: Position): string {
  return Buffer.from(JSON.stringify([p.createdAt.toISOString(), p.id])).toString('base64');
}

/** The position a token names, or undefined when it is not one of ours. */
export function parsePageToken(token: string): Position | undefined {
  if (token.length > 8000) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || !isUuid(parsed[1])) return undefined;
  const createdAt = new Date(parsed[0]);
  if (Number.isNaN(createdAt.getTime())) return undefined;
  return { createdAt, id: parsed[1] };
}

/**
 * The order a page is read in: `natural` is the list's own (newest first for most of Bird's lists),
 * `reverse` flips it.
 */
export function pageOrder(page: Pick<PageRequest, 'reverse'>, natural: 'asc' | 'desc' = 'desc'): 'asc' | 'desc' {
  return page.reverse ? (natural === 'asc' ? 'desc' : 'asc') : natural;
}

/** `(created_at, id)` strictly past the page's position, in the order the page is read. */
export function afterPosition(after: Position, order: 'asc' | 'desc'): Expression<SqlBool> {
  const cmp = order === 'asc' ? sql.raw('>') : sql.raw('<');
  return sql<SqlBool>`(created_at, id) ${cmp} (${after.createdAt}, ${after.id}::uuid)`;
}

/**
 * The page from a query that fetched `limit + 1` rows in page order: the extra row only says there
 * is more, and the token points at the last row returned.
 */
export function keysetPage<T extends { created_at: Date; id: string }>(rows: T[], limit: number): { rows: T[]; nextPageToken: string | null } {
  const more = rows.length > limit;
  if (more) rows.pop();
  const last = rows[rows.length - 1];
  return { rows, nextPageToken: more && last ? encodePageToken({ createdAt: last.created_at, id: last.id }) : null };
}
