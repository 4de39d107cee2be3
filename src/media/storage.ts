import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config.ts';

// Where media bytes live. Two backends behind one interface:
//   local: files under a directory, `<dir>/<workspaceId>/<mediaId>`; uploads come in through
//          Aviary's own presigned POST endpoint and are streamed to a temporary file next to the
//          final one, renamed into place only once complete.
//   s3:    any S3-compatible bucket, key `<workspaceId>/<mediaId>`; uploads go straight to the store
//          with its own presigned POST (the AWS SDK's), so they never pass through Aviary.
// Every write is streamed with a byte limit: memory use does not depend on the size of a file.

export interface StoredObject {
  size: number;
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface PresignedPost {
  url: string;
  fields: Record<string, string>;
}

export interface MediaStorage {
  readonly kind: 'local' | 's3';
  /** The store's own presigned POST (S3); undefined for the local store, which Aviary receives itself. */
  presignPost?(o: { key: string; contentType: string; maxBytes: number; expiresInSeconds: number; fields: Record<string, string> }): Promise<PresignedPost>;
  /** Streams `source` into the object; rejects with MediaTooLargeError past maxBytes and stores nothing. */
  put(key: string, source: Readable, o: { contentType: string; maxBytes: number; metadata?: Record<string, string> }): Promise<{ size: number }>;
  head(key: string): Promise<StoredObject | undefined>;
  open(key: string): Promise<{ stream: Readable; size: number } | undefined>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export class MediaTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`larger than ${limit} bytes`);
  }
}

/** Passes bytes through, counting them; fails with MediaTooLargeError once there are more than `limit`. */
export function byteLimit(limit: number): Transform & { bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      t.bytes += chunk.length;
      if (t.bytes > limit) cb(new MediaTooLargeError(limit));
      else cb(null, chunk);
    },
  }) as Transform & { bytes: number };
  t.bytes = 0;
  return t;
}

// Bytes a file write may run ahead of the disk: large enough that reading the next chunk overlaps
// with writing the last one, small enough that memory stays flat.
const WRITE_BUFFER = 1024 * 1024;

const KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function objectKey(workspaceId: string, mediaId: string): string {
  return `${workspaceId}/${mediaId}`;
}

// ---------------------------------------------------------------------------------------------- local

export class LocalStorage implements MediaStorage {
  readonly kind = 'local' as const;

  constructor(
    readonly dir: string,
    private readonly removeOnClose = false,
  ) {}

  static async temporary(): Promise<LocalStorage> {
    return new LocalStorage(await mkdtemp(join(tmpdir(), 'aviary-media-')), true);
  }

  private pathOf(key: string): string {
    // Keys are made by Aviary from two UUIDs; anything else is refused rather than joined to a path.
    if (!KEY.test(key)) throw new Error(`invalid media object key ${JSON.stringify(key)}`);
    return join(this.dir, key);
  }

  async put(key: string, source: Readable, o: { maxBytes: number }): Promise<{ size: number }> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const part = `${path}.${randomBytes(6).toString('hex')}.part`;
    const limit = byteLimit(o.maxBytes);
    try {
      await pipeline(source, limit, createWriteStream(part, { flags: 'wx', highWaterMark: WRITE_BUFFER }));
      await rename(part, path);
      return { size: limit.bytes };
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const s = await stat(this.pathOf(key));
      return { size: s.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async open(key: string): Promise<{ stream: Readable; size: number } | undefined> {
    const head = await this.head(key);
    if (!head) return undefined;
    return { stream: createReadStream(this.pathOf(key)), size: head.size };
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async close(): Promise<void> {
    if (this.removeOnClose) await rm(this.dir, { recursive: true, force: true });
  }
}

export async function createStorage(config: Config): Promise<MediaStorage> {
  if (config.mediaS3Bucket) {
    // Loaded only when used: the AWS SDK adds ~150 ms to a start.
    const { S3Storage } = await import('./s3-storage.ts');
    return new S3Storage({
      bucket: config.mediaS3Bucket,
      endpoint: config.mediaS3Endpoint,
      region: config.mediaS3Region,
      forcePathStyle: config.mediaS3ForcePathStyle,
      accessKeyId: config.mediaS3AccessKeyId,
      secretAccessKey: config.mediaS3SecretAccessKey,
    });
  }
  if (config.mediaDir) return new LocalStorage(resolve(config.mediaDir));
  // In memory nothing may outlive the process: a temporary directory, removed on close.
  if (config.memory) return LocalStorage.temporary();
  // Created on the first write, so a store that never sees media gets no directory.
  return new LocalStorage(resolve(config.dataDir, 'media'));
}
