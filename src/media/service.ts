import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { AppContext } from '../context.ts';
import type { Db } from '../db/database.ts';
import { uuidv7 } from '../ids.ts';
import { fetchMedia, type FetchedMedia } from './fetch.ts';
import { mediaPath, parseMediaPath, refMatchesRow, type MediaRef, type MediaRow } from './paths.ts';
import { signLink, signUploadPolicy } from './policy.ts';
import { createStorage, objectKey, type MediaStorage } from './storage.ts';

// One per running Aviary: the media storage, the signing key, the public base URL, and the media
// table. Routes, the send-time check, the sandbox's inbound path and connectors all go through it.

export interface PresignedUpload {
  mediaUrl: string;
  uploadUrl: string;
  uploadMethod: 'POST';
  uploadFormData: Record<string, string>;
}

/** What a connector gets for a mediaUrl in a message it sends. */
export type ResolvedMedia =
  | {
      kind: 'stored';
      row: MediaRow;
      contentType: string;
      size: number;
      /** A link anyone can GET until it expires: for providers that download media themselves. */
      signedUrl(ttlSeconds?: number): Promise<string>;
      open(): Promise<{ stream: Readable; size: number } | undefined>;
    }
  | { kind: 'external'; url: string; fetch(): Promise<FetchedMedia> };

export const UPLOAD_PATH = '/media';

function pathRef(url: string): MediaRef | undefined {
  try {
    return parseMediaPath(new URL(url).pathname);
  } catch {
    return undefined;
  }
}

const services = new WeakMap<AppContext, MediaService>();

/** The media service of this Aviary, created on first use. */
export function mediaOf(ctx: AppContext): MediaService {
  let svc = services.get(ctx);
  if (!svc) services.set(ctx, (svc = new MediaService(ctx.config, ctx.db, ctx.log, ctx.clock)));
  return svc;
}

export class MediaService {
  private storagePromise?: Promise<MediaStorage>;
  private secretPromise?: Promise<Buffer>;
  private server?: FastifyInstance;

  constructor(
    readonly config: Config,
    readonly db: Db,
    readonly log: Logger,
    /** Upload policies and media links expire by it. */
    readonly clock: Clock = systemClock,
  ) {}

  /** Binds the service to the HTTP server, for its address (when no --public-url) and its shutdown. */
  attach(server: FastifyInstance): void {
    this.server = server;
    server.addHook('onClose', async () => this.close());
  }

  storage(): Promise<MediaStorage> {
    return (this.storagePromise ??= createStorage(this.config));
  }

  /** The base URL clients reach this server at: --public-url, or the address it listens on. */
  baseUrl(): string | undefined {
    if (this.config.publicUrl) return this.config.publicUrl.replace(/\/+$/, '');
    const addr = this.server?.server.address();
    if (!addr || typeof addr !== 'object') return undefined;
    const host = this.config.host === '0.0.0.0' || this.config.host === '::' ? '127.0.0.1' : this.config.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  }

  origin(): string | undefined {
    const base = this.baseUrl();
    return base ? new URL(base).origin : undefined;
  }

  /** The media a URL names, if it is one of this server's media URLs (same origin, a media path). */
  ownRef(url: string): MediaRef | undefined {
    const origin = this.origin();
    if (!origin) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    return parsed.origin === origin ? parseMediaPath(parsed.pathname) : undefined;
  }

  /** Whether a URL points at this server at all (media path or not). */
  isOwnOrigin(url: string): boolean {
    try {
      return new URL(url).origin === this.origin();
    } catch {
      return false;
    }
  }

  mediaUrl(row: Pick<MediaRow, 'workspace_id' | 'id' | 'origin' | 'channel_id' | 'message_id'>): string {
    return `${this.baseUrl() ?? ''}${mediaPath(row)}`;
  }

  /** The key signing policies and links: --media-signing-secret, or one kept in the store. */
  secret(): Promise<Buffer> {
    return (this.secretPromise ??= this.loadSecret().catch((err) => {
      this.secretPromise = undefined;
      throw err;
    }));
  }

  private async loadSecret(): Promise<Buffer> {
    if (this.config.mediaSigningSecret) return Buffer.from(this.config.mediaSigningSecret, 'utf8');
    // Several processes may race to create it: the first insert wins and everyone reads that one.
    await sql`insert into media_signing_keys (id, secret) values (1, ${randomBytes(32)}) on conflict (id) do nothing`.execute(this.db);
    const row = (await sql<{ secret: Uint8Array }>`select secret from media_signing_keys where id = 1`.execute(this.db)).rows[0];
    return Buffer.from(row.secret);
  }

  // --------------------------------------------------------------------------------------- uploads

  async presign(workspaceId: string, channelId: string | null, contentType: string): Promise<PresignedUpload> {
    const base = this.baseUrl();
    if (!base) throw new Error('the media service is not attached to a listening server');
    const storage = await this.storage();
    const id = uuidv7();
    const key = objectKey(workspaceId, id);
    const maxBytes = this.config.mediaMaxBytes;
    const ttl = this.config.mediaUploadTtlSeconds;
    const expiresAt = new Date(this.clock.now().getTime() + ttl * 1000);
    let uploadUrl: string;
    let uploadFormData: Record<string, string>;
    if (storage.presignPost) {
      const post = await storage.presignPost({
        key,
        contentType,
        maxBytes,
        expiresInSeconds: ttl,
        fields: { 'Content-Type': contentType, 'x-amz-meta-workspace-id': workspaceId, ...(channelId ? { 'x-amz-meta-channel-id': channelId } : {}) },
      });
      uploadUrl = post.url;
      uploadFormData = post.fields;
    } else {
      uploadUrl = `${base}${UPLOAD_PATH}`;
      uploadFormData = signUploadPolicy(await this.secret(), { key, contentType, workspaceId, channelId, maxBytes, expiresAt });
    }
    await sql`
      insert into media (workspace_id, id, origin, channel_id, status, storage, object_key, content_type, max_bytes, expires_at)
      values (${workspaceId}, ${id}, 'upload', ${channelId}, 'pending', ${storage.kind}, ${key}, ${contentType}, ${maxBytes}, ${expiresAt})`.execute(this.db);
    return { mediaUrl: this.mediaUrl({ workspace_id: workspaceId, id, origin: 'upload', channel_id: channelId, message_id: null }), uploadUrl, uploadMethod: 'POST', uploadFormData };
  }

  /**
   * Marks a pending upload as streaming in. 'used' if it is stored already or another upload of it is
   * streaming in (one that started over an hour ago is taken as dead: its process stopped).
   */
  async claimUpload(workspaceId: string, id: string): Promise<'claimed' | 'used' | 'missing'> {
    const claimed = await sql`
      update media set status = 'uploading', claimed_at = now()
      where workspace_id = ${workspaceId} and id = ${id} and origin = 'upload'
        and (status = 'pending' or (status = 'uploading' and claimed_at < now() - interval '1 hour'))
      returning id`.execute(this.db);
    if (claimed.rows.length > 0) return 'claimed';
    return (await this.find(workspaceId, id)) ? 'used' : 'missing';
  }

  async releaseUpload(workspaceId: string, id: string): Promise<void> {
    await sql`update media set status = 'pending' where workspace_id = ${workspaceId} and id = ${id} and status = 'uploading'`.execute(this.db);
  }

  async completeUpload(workspaceId: string, id: string, size: number): Promise<void> {
    await sql`update media set status = 'ready', size = ${size}, stored_at = now() where workspace_id = ${workspaceId} and id = ${id} and status = 'uploading'`.execute(this.db);
  }

  // ------------------------------------------------------------------------------------ the table

  async find(workspaceId: string, id: string): Promise<MediaRow | undefined> {
    return (await sql<MediaRow>`select * from media where workspace_id = ${workspaceId} and id = ${id}`.execute(this.db)).rows[0];
  }

  async findMany(workspaceId: string, ids: string[]): Promise<Map<string, MediaRow>> {
    if (ids.length === 0) return new Map();
    const rows = (await sql<MediaRow>`select * from media where workspace_id = ${workspaceId} and id = any(${ids}::uuid[])`.execute(this.db)).rows;
    return new Map(rows.map((r) => [r.id, r]));
  }

  /**
   * The row if its bytes are in the store. A pending upload to S3 is checked there (Aviary does not
   * see those uploads happen): once the object exists with the workspace, content type and size the
   * policy demanded, the row becomes ready.
   */
  async ensureStored(row: MediaRow): Promise<MediaRow | undefined> {
    if (row.status === 'ready') return row;
    if (row.status !== 'pending' || row.storage !== 's3') return undefined;
    const storage = await this.storage();
    const head = await storage.head(row.object_key);
    if (!head) return undefined;
    const ws = head.metadata?.['workspace-id'];
    if ((ws !== undefined && ws !== row.workspace_id) || (head.contentType !== undefined && head.contentType !== row.content_type) || head.size > Number(row.max_bytes) || head.size < 1) {
      this.log.warn({ workspaceId: row.workspace_id, mediaId: row.id, head }, 'uploaded object does not match its presigned upload');
      return undefined;
    }
    await sql`update media set status = 'ready', size = ${head.size}, stored_at = now() where workspace_id = ${row.workspace_id} and id = ${row.id} and status = 'pending'`.execute(this.db);
    return { ...row, status: 'ready', size: head.size };
  }

  async open(row: MediaRow): Promise<{ stream: Readable; size: number } | undefined> {
    return (await this.storage()).open(row.object_key);
  }

  async signedUrl(row: Pick<MediaRow, 'workspace_id' | 'id'>, ttlSeconds = this.config.mediaLinkTtlSeconds): Promise<string> {
    const query = signLink(await this.secret(), row.workspace_id, row.id, new Date(this.clock.now().getTime() + ttlSeconds * 1000));
    return `${this.baseUrl() ?? ''}/media/${row.workspace_id}/${row.id}?${query}`;
  }

  // ---------------------------------------------------------------------------- inbound and fetch

  fetchExternal(url: string): Promise<FetchedMedia> {
    return fetchMedia(url, {
      maxBytes: this.config.mediaMaxBytes,
      timeoutMs: this.config.mediaFetchTimeoutMs,
      allowPrivate: this.config.mediaAllowPrivateUrls,
    });
  }

  /**
   * Stores a received file: streamed into the store (or, given `objectKey`, an object already there,
   * shared), recorded as media of the incoming message.
   */
  async storeInbound(
    workspaceId: string,
    channelId: string,
    messageId: string,
    source: Readable | null,
    o: { contentType: string; filename?: string; sourceUrl?: string; objectKey?: string; size?: number },
  ): Promise<MediaRow> {
    const storage = await this.storage();
    const id = uuidv7();
    let key = o.objectKey;
    let size = o.size;
    if (!key) {
      if (!source) throw new Error('storeInbound needs a source or an existing object key');
      key = objectKey(workspaceId, id);
      size = (await storage.put(key, source, { contentType: o.contentType, maxBytes: this.config.mediaMaxBytes, metadata: { 'workspace-id': workspaceId } })).size;
    }
    const row = (
      await sql<MediaRow>`
        insert into media (workspace_id, id, origin, channel_id, message_id, status, storage, object_key, content_type, max_bytes, size, filename, source_url, stored_at)
        values (${workspaceId}, ${id}, 'inbound', ${channelId}, ${messageId}, 'ready', ${storage.kind}, ${key}, ${o.contentType}, ${this.config.mediaMaxBytes}, ${size ?? 0},
                ${o.filename ?? null}, ${o.sourceUrl ?? null}, now())
        returning *`.execute(this.db)
    ).rows[0];
    return row;
  }

  /** For connectors: what a mediaUrl in an outgoing message is, and how to get at it. */
  async resolve(workspaceId: string, url: string): Promise<ResolvedMedia> {
    // A worker-only process does not listen: without --public-url it cannot compare origins, and
    // goes by the path alone (a foreign URL of the same shape would also have to name media of this
    // workspace to be taken for one).
    const ref = this.origin() ? this.ownRef(url) : pathRef(url);
    const row = ref && ref.workspaceId === workspaceId ? await this.find(workspaceId, ref.mediaId) : undefined;
    const stored = row && refMatchesRow(ref!, row) ? await this.ensureStored(row) : undefined;
    if (!stored) return { kind: 'external', url, fetch: () => this.fetchExternal(url) };
    return {
      kind: 'stored',
      row: stored,
      contentType: stored.content_type,
      size: Number(stored.size ?? 0),
      signedUrl: (ttl) => this.signedUrl(stored, ttl),
      open: () => this.open(stored),
    };
  }

  /** What a connector's context gets of the media store (connectors/connector-context.ts). */
  forConnectors(): { link(ws: string, url: string): Promise<string>; store(ws: string, ch: string, data: Buffer, type: string, name?: string): Promise<string> } {
    return { link: (ws, url) => this.linkFor(ws, url), store: (ws, ch, data, type, name) => this.storeReceived(ws, ch, data, type, name) };
  }

  /** For connectors (ConnectorContext.mediaLink): a signed link for Aviary's own media, else the URL as given. */
  async linkFor(workspaceId: string, url: string): Promise<string> {
    const r = await this.resolve(workspaceId, url);
    return r.kind === 'stored' ? r.signedUrl() : url;
  }

  /**
   * For connectors (ConnectorContext.storeMedia): keeps a file a contact sent, before the message it
   * came with is recorded, as media of the channel. The message then names it by its mediaUrl (access
   * key required), like an upload; it is never fetched from the provider twice.
   */
  async storeReceived(workspaceId: string, channelId: string, data: Buffer, contentType: string, filename?: string): Promise<string> {
    const storage = await this.storage();
    const id = uuidv7();
    const key = objectKey(workspaceId, id);
    const { size } = await storage.put(key, Readable.from([data]), { contentType, maxBytes: this.config.mediaMaxBytes, metadata: { 'workspace-id': workspaceId } });
    await sql`
      insert into media (workspace_id, id, origin, channel_id, status, storage, object_key, content_type, max_bytes, size, filename, stored_at)
      values (${workspaceId}, ${id}, 'upload', ${channelId}, 'ready', ${storage.kind}, ${key}, ${contentType}, ${this.config.mediaMaxBytes}, ${size}, ${filename ?? null}, now())`.execute(this.db);
    return this.mediaUrl({ workspace_id: workspaceId, id, origin: 'upload', channel_id: channelId, message_id: null });
  }

  async close(): Promise<void> {
    const storage = this.storagePromise;
    this.storagePromise = undefined;
    if (storage) await (await storage).close();
  }
}

