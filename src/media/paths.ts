import type { Selectable } from 'kysely';
import type { MediaTable } from '../db/schema.ts';
import { isUuid } from '../ids.ts';

// Where media live in Aviary's URL space, and where they appear in a message body.
//
//   /workspaces/{ws}/channel-media/{id}            an upload usable on any channel of the workspace
//   /workspaces/{ws}/channels/{ch}/media/{id}      an upload bound to one channel (Bird: "outgoing media")
//   /workspaces/{ws}/messages/{msg}/media/{id}     a file received in an incoming message
//   /media/{ws}/{id}?expires=..&signature=..       a signed, expiring link to any of them (no access key)
//
// The first three need an access key to GET and are the mediaUrls that go into message bodies.

export type MediaRef =
  | { kind: 'upload'; workspaceId: string; channelId: string | null; mediaId: string }
  | { kind: 'inbound'; workspaceId: string; messageId: string; mediaId: string }
  | { kind: 'link'; workspaceId: string; mediaId: string };

/** A row of the media table (db/tables/media.ts). */
export type MediaRow = Selectable<MediaTable>;

/** The retrieval path of a media row (the path part of its mediaUrl). */
export function mediaPath(row: Pick<MediaRow, 'workspace_id' | 'id' | 'origin' | 'channel_id' | 'message_id'>): string {
  const ws = `/workspaces/${row.workspace_id}`;
  if (row.origin === 'inbound') return `${ws}/messages/${row.message_id}/media/${row.id}`;
  return row.channel_id ? `${ws}/channels/${row.channel_id}/media/${row.id}` : `${ws}/channel-media/${row.id}`;
}

/** Reads a path as one of Aviary's media paths; undefined for anything else. */
export function parseMediaPath(pathname: string): MediaRef | undefined {
  const s = pathname.replace(/\/+$/, '').split('/').slice(1);
  const uuids = (...i: number[]) => i.every((n) => isUuid(s[n]));
  if (s[0] === 'media' && s.length === 3 && uuids(1, 2)) return { kind: 'link', workspaceId: s[1].toLowerCase(), mediaId: s[2].toLowerCase() };
  if (s[0] !== 'workspaces' || !isUuid(s[1])) return undefined;
  const workspaceId = s[1].toLowerCase();
  if (s.length === 4 && s[2] === 'channel-media' && uuids(3)) return { kind: 'upload', workspaceId, channelId: null, mediaId: s[3].toLowerCase() };
  if (s.length === 6 && s[2] === 'channels' && s[4] === 'media' && uuids(3, 5)) {
    return { kind: 'upload', workspaceId, channelId: s[3].toLowerCase(), mediaId: s[5].toLowerCase() };
  }
  if (s.length === 6 && s[2] === 'messages' && s[4] === 'media' && uuids(3, 5)) {
    return { kind: 'inbound', workspaceId, messageId: s[3].toLowerCase(), mediaId: s[5].toLowerCase() };
  }
  return undefined;
}

/** Whether a row is what the reference names: same kind, same channel binding, same message. */
export function refMatchesRow(ref: MediaRef, row: MediaRow): boolean {
  if (ref.workspaceId !== row.workspace_id || ref.mediaId !== row.id) return false;
  switch (ref.kind) {
    case 'upload':
      return row.origin === 'upload' && (row.channel_id ?? null) === ref.channelId;
    case 'inbound':
      return row.origin === 'inbound' && row.message_id === ref.messageId;
    case 'link':
      return true;
  }
}

/** What a media item is used as in a message body; decides which content types a platform accepts. */
export type MediaRole = 'image' | 'gif' | 'file' | 'attachment' | 'card';

export interface MediaUse {
  /** JSON path of the URL, Bird style: `.body.image.images[0].mediaUrl`. */
  path: string;
  url: string;
  role: MediaRole;
  /** The content type the request declares for it (file items), if any. */
  declaredType?: string;
  /** The file name the body gives it, if any. */
  filename?: string;
  /** Replaces the URL in the body it was found in. */
  set(url: string): void;
}

/**
 * Every mediaUrl in a message body (image, file, gif, text/html attachments, carousel and list items,
 * and all of these inside sections), with its JSON path under `prefix`.
 */
export function mediaUses(body: unknown, prefix = '.body'): MediaUse[] {
  const out: MediaUse[] = [];
  walkBody(body, prefix, out);
  return out;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function use(out: MediaUse[], holder: unknown, path: string, role: MediaRole, declaredType?: unknown): void {
  if (!isObj(holder) || typeof holder.mediaUrl !== 'string') return;
  out.push({
    path: `${path}.mediaUrl`,
    url: holder.mediaUrl,
    role,
    ...(typeof declaredType === 'string' ? { declaredType } : {}),
    ...(typeof holder.filename === 'string' && holder.filename ? { filename: holder.filename } : {}),
    set: (url) => {
      holder.mediaUrl = url;
    },
  });
}

function each(list: unknown, path: string, fn: (item: unknown, path: string) => void): void {
  if (Array.isArray(list)) list.forEach((item, i) => fn(item, `${path}[${i}]`));
}

function walkBody(body: unknown, path: string, out: MediaUse[]): void {
  if (!isObj(body) || typeof body.type !== 'string') return;
  const p = `${path}.${body.type}`;
  const inner = body[body.type];
  if (!isObj(inner)) return;
  switch (body.type) {
    case 'image':
      each(inner.images, `${p}.images`, (item, ip) => use(out, item, ip, 'image'));
      break;
    case 'file':
      each(inner.files, `${p}.files`, (item, ip) => use(out, item, ip, 'file', isObj(item) ? item.contentType : undefined));
      break;
    case 'gif':
      use(out, inner, p, 'gif');
      break;
    case 'text':
    case 'html':
      each(inner.attachments, `${p}.attachments`, (item, ip) => use(out, item, ip, 'attachment', isObj(item) ? item.contentType : undefined));
      break;
    case 'carousel':
    case 'list':
      each(inner.items, `${p}.items`, (item, ip) => use(out, item, ip, 'card'));
      break;
    case 'section':
      each(inner.items, `${p}.items`, (item, ip) => walkBody(item, ip, out));
      break;
  }
}

/** Media attached to a template send (`template.attachments`). */
export function templateMediaUses(template: unknown): MediaUse[] {
  const out: MediaUse[] = [];
  if (isObj(template)) each(template.attachments, '.template.attachments', (item, ip) => use(out, item, ip, 'attachment'));
  return out;
}
