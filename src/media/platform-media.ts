import { sql } from 'kysely';
import type { Platform } from '../channels/platforms.ts';
import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';
import { failures, type Failure } from '../connectors/failures.ts';
import { mediaUses, parseMediaPath, templateMediaUses, type MediaRole } from './paths.ts';

// The content types (and, where the platform documents them, sizes) each platform accepts for each
// use of media in a message, checked when a message is handed to its platform (dispatch/prepare.ts).
// A media item's type is known for media stored by Aviary (uploads, received files: the type they
// were stored with) and for file items that declare `contentType`; an external URL without a
// declared type is checked by the connector once it has fetched it (`checkContentType`).
// A refusal is Bird's 12002 UNSUPPORTED_TYPE with the platform as source (WhatsApp: its error 131053).

type Kind = 'image' | 'video' | 'audio' | 'document' | 'sticker' | 'animation';
interface KindRule {
  types: ReadonlySet<string> | 'any';
  maxBytes?: number;
}
interface PlatformMedia {
  kinds: Partial<Record<Kind, KindRule>>;
  /** Which kinds each use in a body may be. */
  roles: Record<MediaRole, Kind[]>;
  /** Platform error code reported as failure.source.code. */
  sourceCode?: string;
}

const set = (...t: string[]) => new Set(t);
const MB = 1024 * 1024;
const ANY_FILE: Record<MediaRole, Kind[]> = {
  image: ['image'],
  gif: ['image', 'video'],
  file: ['image', 'video', 'audio', 'document'],
  attachment: ['image', 'video', 'audio', 'document'],
  card: ['image', 'video'],
};
const anything: KindRule = { types: 'any' };

// WhatsApp Cloud API "supported media types"; a GIF body is an animation: a GIF (converted) or an MP4.
const WHATSAPP: PlatformMedia = {
  kinds: {
    image: { types: set('image/jpeg', 'image/png'), maxBytes: 5 * MB },
    video: { types: set('video/mp4', 'video/3gpp'), maxBytes: 16 * MB },
    audio: { types: set('audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg'), maxBytes: 16 * MB },
    document: {
      types: set(
        'text/plain',
        'application/pdf',
        'application/msword',
        'application/vnd.ms-excel',
        'application/vnd.ms-powerpoint',
        'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        'application/vnd.openxmlformats-officedocument.presentationml.presentation',
      ),
      maxBytes: 100 * MB,
    },
    sticker: { types: set('image/webp'), maxBytes: 500 * 1024 },
    animation: { types: set('image/gif', 'video/mp4'), maxBytes: 16 * MB },
  },
  roles: { image: ['image'], gif: ['animation'], file: ['image', 'video', 'audio', 'document', 'sticker'], attachment: ['image', 'video', 'audio', 'document'], card: ['image', 'video'] },
  sourceCode: '131053',
};

const IMAGES_COMMON = set('image/jpeg', 'image/png', 'image/gif');

export const PLATFORM_MEDIA: Record<Platform, PlatformMedia> = {
  whatsapp: WHATSAPP,
  // SMS carries no media (its body type is text only); an attachment would be refused before this.
  sms: { kinds: {}, roles: ANY_FILE },
  email: { kinds: { image: anything, video: anything, audio: anything, document: anything }, roles: ANY_FILE },
  rcs: {
    kinds: {
      image: { types: set('image/jpeg', 'image/png', 'image/gif'), maxBytes: 100 * MB },
      video: { types: set('video/mp4', 'video/mpeg', 'video/webm', 'video/h263', 'video/m4v'), maxBytes: 100 * MB },
      audio: { types: set('audio/aac', 'audio/mp3', 'audio/mpeg', 'audio/mp4', 'audio/ogg'), maxBytes: 100 * MB },
      document: { types: set('application/pdf'), maxBytes: 100 * MB },
    },
    roles: ANY_FILE,
  },
  telegram: {
    kinds: {
      image: { types: set('image/jpeg', 'image/png', 'image/gif', 'image/webp'), maxBytes: 10 * MB },
      video: { types: set('video/mp4'), maxBytes: 50 * MB },
      audio: { types: 'any', maxBytes: 50 * MB },
      document: { types: 'any', maxBytes: 50 * MB },
    },
    roles: { ...ANY_FILE, gif: ['image', 'video'] },
  },
  line: {
    kinds: {
      image: { types: set('image/jpeg', 'image/png'), maxBytes: 10 * MB },
      video: { types: set('video/mp4'), maxBytes: 200 * MB },
      audio: { types: set('audio/mp4', 'audio/m4a', 'audio/x-m4a', 'audio/aac'), maxBytes: 200 * MB },
    },
    roles: ANY_FILE,
  },
  'apple-business-chat': { kinds: { image: anything, video: anything, audio: anything, document: anything }, roles: ANY_FILE },
  instagram: {
    kinds: {
      image: { types: set('image/jpeg', 'image/png', 'image/gif'), maxBytes: 8 * MB },
      video: { types: set('video/mp4', 'video/ogg', 'video/webm', 'video/quicktime', 'video/x-msvideo'), maxBytes: 25 * MB },
      audio: { types: set('audio/aac', 'audio/mp4', 'audio/m4a', 'audio/x-m4a', 'audio/wav', 'audio/x-wav'), maxBytes: 25 * MB },
    },
    roles: ANY_FILE,
  },
  facebook: {
    kinds: { image: { types: IMAGES_COMMON, maxBytes: 25 * MB }, video: { types: 'any', maxBytes: 25 * MB }, audio: { types: 'any', maxBytes: 25 * MB }, document: { types: 'any', maxBytes: 25 * MB } },
    roles: ANY_FILE,
  },
  viber: {
    kinds: { image: { types: set('image/jpeg', 'image/png', 'image/gif') }, video: { types: set('video/mp4') }, document: anything },
    roles: ANY_FILE,
  },
};

const KIND_OF_TYPE = (type: string): Kind[] => {
  if (type === 'image/webp') return ['sticker', 'image'];
  if (type === 'image/gif' || type === 'video/mp4') return [type === 'image/gif' ? 'image' : 'video', 'animation'];
  if (type.startsWith('image/')) return ['image'];
  if (type.startsWith('video/')) return ['video'];
  if (type.startsWith('audio/')) return ['audio'];
  return ['document'];
};

const ALIASES: Record<string, string> = { 'image/jpg': 'image/jpeg', 'image/pjpeg': 'image/jpeg', 'audio/mp3': 'audio/mpeg', 'audio/x-m4a': 'audio/mp4' };

/** `Image/JPG; charset=x` -> `image/jpeg`. */
export function normalizeContentType(type: string): string {
  const t = type.split(';')[0].trim().toLowerCase();
  return ALIASES[t] ?? t;
}

/**
 * Whether `platform` takes media of this type (and size, when known) in this use; a description of
 * the refusal otherwise.
 */
export function checkContentType(platform: Platform, role: MediaRole, contentType: string, size?: number): string | undefined {
  const rules = PLATFORM_MEDIA[platform];
  const type = normalizeContentType(contentType);
  const accepts = (rule: KindRule) => rule.types === 'any' || rule.types.has(type) || rule.types.has(contentType.toLowerCase());
  const allowedKinds = rules.roles[role].filter((k) => rules.kinds[k]);
  const matching = KIND_OF_TYPE(type).filter((k) => allowedKinds.includes(k) && accepts(rules.kinds[k]!));
  if (matching.length === 0) {
    const accepted = allowedKinds.flatMap((k) => (rules.kinds[k]!.types === 'any' ? [`any ${k}`] : [...(rules.kinds[k]!.types as Set<string>)]));
    return `${contentType} is not accepted for ${role === 'card' ? 'a card' : `${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role}`} on ${platform}${accepted.length ? ` (accepted: ${accepted.join(', ')})` : ''}`;
  }
  if (size !== undefined) {
    const limit = Math.max(...matching.map((k) => rules.kinds[k]!.maxBytes ?? Infinity));
    if (size > limit) return `${contentType} of ${size} bytes is larger than ${platform} accepts (${limit} bytes)`;
  }
  return undefined;
}

export interface StoredMediaInfo {
  contentType: string;
  size: number | undefined;
}

/** The stored type and size of every Aviary media URL in these messages, in one query. */
export async function loadMediaInfo(db: Db, rows: MessageRow[]): Promise<Map<string, StoredMediaInfo>> {
  const ws: string[] = [];
  const ids: string[] = [];
  for (const row of rows) {
    for (const u of [...mediaUses(row.body), ...templateMediaUses(row.template)]) {
      const ref = pathOf(u.url);
      if (ref && ref.workspaceId === row.workspace_id) {
        ws.push(row.workspace_id);
        ids.push(ref.mediaId);
      }
    }
  }
  const out = new Map<string, StoredMediaInfo>();
  if (ids.length === 0) return out;
  const found = await sql<{ workspace_id: string; id: string; content_type: string; size: string | number | null }>`
    select m.workspace_id, m.id, m.content_type, m.size from media m
    join unnest(${ws}::uuid[], ${ids}::uuid[]) as t(w, i) on m.workspace_id = t.w and m.id = t.i`.execute(db);
  for (const r of found.rows) out.set(`${r.workspace_id}|${r.id}`, { contentType: r.content_type, size: r.size == null ? undefined : Number(r.size) });
  return out;
}

function pathOf(url: string) {
  try {
    return parseMediaPath(new URL(url).pathname);
  } catch {
    return undefined;
  }
}

/** The first media item of a message its platform does not accept, as a Bird failure. */
export function checkPlatformMedia(
  row: Pick<MessageRow, 'workspace_id' | 'body' | 'template'>,
  platform: Platform,
  platformId: string,
  info: Map<string, StoredMediaInfo>,
): { failure: Failure; reason: string } | undefined {
  for (const u of [...mediaUses(row.body), ...templateMediaUses(row.template)]) {
    const ref = pathOf(u.url);
    const stored = ref ? info.get(`${row.workspace_id}|${ref.mediaId}`) : undefined;
    const type = stored?.contentType ?? u.declaredType;
    if (!type) continue;
    const problem = checkContentType(platform, u.role, type, stored?.size);
    if (problem) {
      const failure = failures.unsupportedMediaType(`${u.path.slice(1)}: ${problem}`, platformId, PLATFORM_MEDIA[platform].sourceCode);
      return { failure, reason: failure.description };
    }
  }
  return undefined;
}
