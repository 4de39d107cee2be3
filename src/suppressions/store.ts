import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { pageOrder, type PageRequest } from '../db/keyset-page.ts';

// The workspace suppression list: identifiers that must not be messaged. The dispatcher checks it
// before every send (dispatch/prepare.ts) and marks a message to a suppressed receiver `skipped`.
// Entries come from the API (POST /suppressions) and from unsubscribe-request interactions.

export interface Suppression {
  identifierKey: string;
  identifierValue: string;
  reason: string | null;
  createdAt: string;
}

/** What an identifier key may look like: phonenumber, emailaddress, telegramid, ... */
export const IDENTIFIER_KEY_PATTERN = '^[A-Za-z][A-Za-z0-9_.-]{0,63}$';

interface SuppressionDbRow {
  identifier_key: string;
  identifier_value: string;
  reason: string | null;
  created_at: Date;
  /** created_at exactly as PostgreSQL holds it (microseconds), for page tokens. */
  created_at_exact: string;
}

/** The same normalisation sends apply to receivers (messages/accept-message.ts), so a suppression matches them. */
export function normalizeSuppressionIdentifier(key: string, value: string): { key: string; value: string } {
  const k = key.trim().toLowerCase();
  const v = k === 'emailaddress' ? value.trim().toLowerCase() : value.trim();
  return { key: k, value: v };
}

function toJson(r: SuppressionDbRow): Suppression {
  return { identifierKey: r.identifier_key, identifierValue: r.identifier_value, reason: r.reason, createdAt: r.created_at.toISOString() };
}

const COLUMNS = sql`identifier_key, identifier_value, reason, created_at, to_json(created_at) #>> '{}' as created_at_exact`;

/**
 * Adds an identifier to the list; adding one that is already there changes nothing and returns the
 * existing entry (its first reason and time are kept).
 */
export async function addSuppression(db: Db, workspaceId: string, input: { key: string; value: string; reason?: string | null }, at = new Date()): Promise<Suppression> {
  const { key, value } = normalizeSuppressionIdentifier(input.key, input.value);
  await sql`
    insert into suppressions (workspace_id, identifier_key, identifier_value, reason, created_at)
    values (${workspaceId}, ${key}, ${value}, ${input.reason ?? null}, ${at})
    on conflict (workspace_id, identifier_key, identifier_value) do nothing`.execute(db);
  const found = await getSuppression(db, workspaceId, key, value);
  return found!;
}

export async function getSuppression(db: Db, workspaceId: string, key: string, value: string): Promise<Suppression | undefined> {
  const n = normalizeSuppressionIdentifier(key, value);
  const r = await sql<SuppressionDbRow>`
    select ${COLUMNS} from suppressions
    where workspace_id = ${workspaceId} and identifier_key = ${n.key} and identifier_value = ${n.value}`.execute(db);
  return r.rows[0] && toJson(r.rows[0]);
}

export async function removeSuppression(db: Db, workspaceId: string, key: string, value: string): Promise<boolean> {
  const n = normalizeSuppressionIdentifier(key, value);
  const r = await sql<{ identifier_key: string }>`
    delete from suppressions
    where workspace_id = ${workspaceId} and identifier_key = ${n.key} and identifier_value = ${n.value}
    returning identifier_key`.execute(db);
  return r.rows.length > 0;
}

export interface PagePosition {
  createdAt: string;
  key: string;
  value: string;
}

// Page tokens are base64 of `["<createdAt>","<identifierKey>","<identifierValue>"]`: the position of the
// last entry returned. createdAt keeps PostgreSQL's microseconds so no entry is skipped or repeated.
function encodeToken(p: PagePosition): string {
  return Buffer.from(JSON.stringify([p.createdAt, p.key, p.value])).toString('base64');
}

/** The position a suppressions page token names (undefined: not one of ours), for http/page-query.ts. */
export function parseSuppressionToken(token: string): PagePosition | undefined {
  if (token.length > 4000) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((x) => typeof x === 'string')) return undefined;
  const [createdAt, key, value] = parsed as string[];
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d(:\d\d)?)$/.test(createdAt) || Number.isNaN(Date.parse(createdAt))) return undefined;
  return { createdAt, key, value };
}

export interface SuppressionFilter {
  identifierKey?: string;
  identifierValue?: string;
}

/** Newest first, keyset-paginated on (created_at, identifier_key, identifier_value). */
export async function listSuppressions(
  db: Db,
  workspaceId: string,
  f: SuppressionFilter & PageRequest<PagePosition>,
): Promise<{ results: Suppression[]; nextPageToken: string | null }> {
  const after = f.after;
  const order = pageOrder(f);
  const cmp = sql.raw(order === 'asc' ? '>' : '<');
  const conditions = [sql`workspace_id = ${workspaceId}`];
  if (f.identifierKey !== undefined) conditions.push(sql`identifier_key = ${f.identifierKey.trim().toLowerCase()}`);
  if (f.identifierValue !== undefined) {
    // Email addresses are stored lower-cased; a value typed with capitals still finds them.
    const v = f.identifierValue.trim();
    conditions.push(sql`identifier_value in (${v}, ${v.toLowerCase()})`);
  }
  if (after) {
    conditions.push(sql`(created_at, identifier_key, identifier_value) ${cmp} (${after.createdAt}::timestamptz, ${after.key}, ${after.value})`);
  }
  const r = await sql<SuppressionDbRow>`
    select ${COLUMNS} from suppressions
    where ${sql.join(conditions, sql` and `)}
    order by created_at ${sql.raw(order)}, identifier_key ${sql.raw(order)}, identifier_value ${sql.raw(order)}
    limit ${f.limit + 1}`.execute(db);
  const rows = r.rows;
  const more = rows.length > f.limit;
  if (more) rows.pop();
  const last = rows[rows.length - 1];
  return {
    results: rows.map(toJson),
    nextPageToken: more && last ? encodeToken({ createdAt: last.created_at_exact, key: last.identifier_key, value: last.identifier_value }) : null,
  };
}
