import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { byteLimit, type MediaStorage, type PresignedPost, type StoredObject } from './storage.ts';

// The S3-compatible backend of storage.ts (loaded only when --media-s3-bucket is set).

export interface S3Options {
  bucket: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
}

export class S3Storage implements MediaStorage {
  readonly kind = 's3' as const;
  readonly client: S3Client;

  constructor(readonly options: S3Options) {
    const config: S3ClientConfig = {
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      // Checksums only where S3 requires them: many S3-compatible stores do not decode the SDK's
      // default aws-chunked uploads with checksum trailers and would store the framing with the bytes.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    if (options.endpoint) config.endpoint = options.endpoint;
    if (options.accessKeyId && options.secretAccessKey) config.credentials = { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey };
    this.client = new S3Client(config);
  }

  async presignPost(o: { key: string; contentType: string; maxBytes: number; expiresInSeconds: number; fields: Record<string, string> }): Promise<PresignedPost> {
    // Every entry of Fields becomes an exact-match condition of the policy (the SDK adds them), so
    // the store itself refuses another Content-Type, workspace or channel; the size range is added here.
    return createPresignedPost(this.client, {
      Bucket: this.options.bucket,
      Key: o.key,
      Conditions: [['content-length-range', 1, o.maxBytes]],
      Fields: o.fields,
      Expires: o.expiresInSeconds,
    });
  }

  async put(key: string, source: Readable, o: { contentType: string; maxBytes: number; metadata?: Record<string, string> }): Promise<{ size: number }> {
    // A PUT needs its length up front; a fetched body may not declare one (or may lie), so it is
    // spooled to a temporary file under the byte limit first. Memory stays flat either way.
    const dir = await mkdtemp(join(tmpdir(), 'aviary-s3-'));
    const file = join(dir, 'part');
    try {
      const limit = byteLimit(o.maxBytes);
      await pipeline(source, limit, createWriteStream(file));
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: key,
          Body: createReadStream(file),
          ContentLength: limit.bytes,
          ContentType: o.contentType,
          Metadata: o.metadata,
        }),
      );
      return { size: limit.bytes };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return { size: r.ContentLength ?? 0, contentType: r.ContentType, metadata: r.Metadata };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
  }

  async open(key: string): Promise<{ stream: Readable; size: number } | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return { stream: r.Body as Readable, size: r.ContentLength ?? 0 };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
