import { sql, type SqlBool, type Expression } from 'kysely';
import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { singleParam, type Query } from '../http/query.ts';
import { afterPosition, keysetPage, pageOrder, type PageRequest } from '../db/keyset-page.ts';
import { readPageQuery } from '../http/page-query.ts';
import { PLATFORMS, isPlatform } from '../channels/platforms.ts';
import { MESSAGE_STATUSES } from './lifecycle.ts';

// GET .../messages with every filter of Bird's list endpoint. Newest first (reverse=true: oldest
// first), walked by keyset on (created_at, id) so any page costs the same as the first.

export interface MessageFilter extends PageRequest {
  channelId?: string;
  platforms?: string[];
  direction?: 'incoming' | 'outgoing';
  statuses?: string[];
  ids?: string[];
  navigatorId?: string;
  startAt?: Date;
  endAt?: Date;
  from?: string[];
  to?: string[];
  failureCodes?: number[];
  failureSourceCodes?: string[];
  failureSourceNames?: string[];
  countryCodes?: string[];
  tags?: string[];
  emailSubject?: string;
  batchId?: string;
}


/** Values for `key` given as `key=a&key=b`, `key[]=a`, or `key=a,b`. */
function many(q: Query, key: string): string[] | undefined {
  const raw = [q[key], q[`${key}[]`]].flat().filter((v): v is string => typeof v === 'string');
  if (raw.length === 0) return undefined;
  const values = raw.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  return values.length ? values : undefined;
}

const one = singleParam;

export const MESSAGE_PAGE = { defaultLimit: 10, maxLimit: 1000 };

export function parseMessageQuery(q: Query): MessageFilter {
  const details: ErrorDetails = {};
  const bad = (key: string, msg: string) => ((details[key] ??= []).push(msg), undefined);

  const page = readPageQuery(q, MESSAGE_PAGE, details);
  const date = (key: string) => {
    const v = one(q, key, details);
    if (v === undefined) return undefined;
    const d = new Date(v);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(d.getTime())) return bad(key, 'must be an RFC3339 date-time');
    return d;
  };
  const uuid = (key: string) => {
    const v = one(q, key, details);
    if (v !== undefined && !isUuid(v)) return bad(key, 'must be a UUID');
    return v;
  };

  const platforms = many(q, 'platform');
  for (const p of platforms ?? []) if (!/^[A-Za-z0-9-]{3,60}$/.test(p)) bad('platform', `"${p}" is not a platform name`);
  const direction = one(q, 'direction', details);
  if (direction !== undefined && direction !== 'incoming' && direction !== 'outgoing') bad('direction', 'must be incoming or outgoing');
  // Unknown statuses are refused rather than matching nothing: a typo ("delivred") would otherwise
  // read as "no such messages", which is the silent answer this filter exists to prevent.
  const statuses = many(q, 'status');
  for (const s of statuses ?? []) if (!(MESSAGE_STATUSES as readonly string[]).includes(s)) bad('status', `"${s}" is not one of ${MESSAGE_STATUSES.join(', ')}`);
  const ids = many(q, 'id');
  for (const id of ids ?? []) if (!isUuid(id)) bad('id', `"${id}" is not a UUID`);
  const failureCodes = many(q, 'failureCode')?.map((c) => {
    if (!/^\d+$/.test(c)) bad('failureCode', `"${c}" is not an integer`);
    return Number(c);
  });
  const emailSubject = one(q, 'emailSubject', details);

  const filter: MessageFilter = {
    ...page,
    platforms: platforms?.map((p) => (isPlatform(p) ? p : Object.entries(PLATFORMS).find(([, v]) => v.platformId === p)?.[0] ?? p)),
    direction: direction as MessageFilter['direction'],
    statuses,
    ids,
    navigatorId: uuid('navigatorId'),
    startAt: date('startAt'),
    endAt: date('endAt'),
    from: many(q, 'from'),
    to: many(q, 'to'),
    failureCodes,
    failureSourceCodes: many(q, 'failureSourceCode'),
    failureSourceNames: many(q, 'failureSourceName'),
    countryCodes: many(q, 'countryCode')?.map((c) => c.toUpperCase()),
    tags: many(q, 'tag')?.map((t) => t.toLowerCase()),
    emailSubject: emailSubject?.trim() || undefined,
    batchId: uuid('batchId'),
  };
  if (Object.keys(details).length) throw errors.invalidQuery(details);
  return filter;
}

export interface MessagePage {
  rows: MessageRow[];
  nextPageToken: string | null;
}

export async function listMessages(db: Db, workspaceId: string, f: MessageFilter): Promise<MessagePage> {
  const dir = pageOrder(f);
  let q = db.selectFrom('messages').selectAll().where('workspace_id', '=', workspaceId);
  if (f.channelId) q = q.where('channel_id', '=', f.channelId);
  if (f.after) q = q.where(afterPosition(f.after, dir));
  if (f.platforms) q = q.where('platform', 'in', f.platforms);
  if (f.direction) q = q.where('direction', '=', f.direction);
  if (f.statuses) q = q.where('status', 'in', f.statuses);
  if (f.ids) q = q.where('id', 'in', f.ids);
  if (f.navigatorId) q = q.where('navigator_id', '=', f.navigatorId);
  if (f.startAt) q = q.where('created_at', '>=', f.startAt);
  if (f.endAt) q = q.where('created_at', '<=', f.endAt);
  if (f.from) q = q.where('from_identifier', 'in', f.from);
  if (f.to) q = q.where(overlaps('to_identifiers', f.to));
  if (f.failureCodes) q = q.where('failure_code', 'in', f.failureCodes);
  if (f.failureSourceCodes) q = q.where('failure_source_code', 'in', f.failureSourceCodes);
  if (f.failureSourceNames) q = q.where('failure_source_name', 'in', f.failureSourceNames);
  if (f.countryCodes) q = q.where(overlaps('country_codes', f.countryCodes));
  if (f.tags) q = q.where(overlaps('tags', f.tags));
  if (f.batchId) q = q.where('batch_id', '=', f.batchId);
  if (f.emailSubject) {
    // Full-text, language-neutral: every word of the query must occur in the subject.
    q = q.where(sql<SqlBool>`to_tsvector('simple', coalesce(email_subject, '')) @@ plainto_tsquery('simple', ${f.emailSubject})`);
  }
  const rows = await q.orderBy('created_at', dir).orderBy('id', dir).limit(f.limit + 1).execute();
  return keysetPage(rows, f.limit);
}

function overlaps(column: 'to_identifiers' | 'country_codes' | 'tags', values: string[]): Expression<SqlBool> {
  return sql<SqlBool>`${sql.ref(column)} && ${values}::text[]`;
}
