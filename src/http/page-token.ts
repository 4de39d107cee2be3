import { errors } from '../errors.ts';
import { isUuid } from '../ids.ts';

// Bird's page tokens are base64 of `["<createdAt>","<id>"]`; ours are the same, so a token is the
// position of the last row returned and the next page starts strictly after it (keyset pagination:
// stable while rows are added, and as fast on page 10,000 as on page 1).

export interface Position {
  createdAt: Date;
  id: string;
}

export function encodePageToken(p: Position): string {
  return Buffer.from(JSON.stringify([p.createdAt.toISOString(), p.id])).toString('base64');
}

export function decodePageToken(token: string, param = 'pageToken'): Position {
  const bad = () => errors.invalidQuery({ [param]: ['is not a valid page token'] });
  if (token.length > 8000) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || !isUuid(parsed[1])) throw bad();
  const createdAt = new Date(parsed[0]);
  if (Number.isNaN(createdAt.getTime())) throw bad();
  return { createdAt, id: parsed[1] };
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
