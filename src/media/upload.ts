import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { Busboy, type BusboyHeaders } from '@fastify/busboy';
import { ApiError, errors } from '../errors.ts';
import { verifyUploadForm } from './policy.ts';
import type { MediaService } from './service.ts';
import { MediaTooLargeError } from './storage.ts';

// The receiving end of Aviary's own presigned POST (local storage): a multipart form with the fields
// of uploadFormData, then `file`, exactly as S3 takes it. The fields are checked against the signed
// policy when the file part starts (fields after it are ignored, as S3 does); the file is streamed
// to the store under the policy's size limit. Every refusal stores nothing and leaves the upload
// pending, so the same policy can be used again until it has succeeded once or expired.

const FORM_LIMITS = { fieldNameSize: 200, fieldSize: 64 * 1024, fields: 64, parts: 100 };

export interface UploadLimits {
  /** Slowest accepted body, in bytes per second over windowMs; 0: no floor. */
  minBytesPerSecond: number;
  windowMs: number;
  /** Longest the whole body may take. */
  timeoutMs: number;
}

export function receiveUpload(svc: MediaService, req: IncomingMessage, limits: UploadLimits): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let file: Promise<void> | undefined;
    let fileStream: Readable | undefined;
    const fields: Record<string, string> = {};

    // The floor holds until the whole body is in, also after a refusal while the rest is drained:
    // a client trickling a refused upload is cut off like one trickling an accepted one.
    const abort = (err: ApiError) => {
      if (settled) {
        stopWatching();
        return void req.socket.destroy();
      }
      settled = true;
      stopWatching();
      req.unpipe(bb);
      req.pause();
      // Too slow: the rest of the body is not waited for. The file stream fails (the store deletes
      // the partial file and the upload is released), and the 408 closes the connection.
      fileStream?.destroy(new Error(err.message));
      // Answered once the store has let go of the upload, so that it can be retried at once.
      void (file ?? Promise.resolve()).catch(() => {}).then(() => reject(err));
    };
    const stopWatching = watchRate(req, limits, abort);

    let bb: ReturnType<typeof Busboy>;
    try {
      bb = Busboy({
        headers: req.headers as BusboyHeaders,
        limits: FORM_LIMITS,
        // `-F file=<text` (no filename) is still the file.
        isPartAFile: (name, contentType, filename) => name === 'file' || filename !== undefined || contentType === 'application/octet-stream',
      });
    } catch (err) {
      settled = true;
      stopWatching();
      req.resume();
      return reject(errors.badRequest(`The multipart form cannot be read: ${(err as Error).message}`));
    }

    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      // Whatever is left of the body is read and dropped, so the client gets the answer.
      req.unpipe(bb);
      fileStream?.resume();
      req.resume();
      reject(err);
    };
    const succeed = () => {
      if (settled) return;
      settled = true;
      stopWatching();
      resolve();
    };

    bb.on('field', (name, value, _nameTruncated, valueTruncated) => {
      if (file || settled) return;
      if (valueTruncated) return fail(errors.badRequest(`Form field "${name}" is longer than ${FORM_LIMITS.fieldSize} bytes`));
      fields[name] = value;
    });
    bb.on('file', (name, stream) => {
      if (file || settled) {
        stream.resume();
        return;
      }
      if (name !== 'file') {
        stream.resume();
        return fail(errors.badRequest(`The file must be sent in the form field named "file", not "${name}"`));
      }
      fileStream = stream;
      file = store(svc, fields, stream);
      file.catch(fail);
    });
    bb.on('finish', () => {
      if (!file) return fail(errors.badRequest('The form has no "file" field: send every field of uploadFormData, then the file as "file"'));
      file.then(succeed, fail);
    });
    bb.on('partsLimit', () => fail(errors.badRequest('The form has too many parts')));
    bb.on('fieldsLimit', () => fail(errors.badRequest('The form has too many fields')));
    bb.on('error', (err: Error) => fail(errors.badRequest(`The multipart form cannot be read: ${err.message}`)));
    // A client that goes away mid-file must not leave the upload claimed.
    req.on('close', () => {
      stopWatching();
      if (!req.complete && !settled) fileStream?.destroy(new Error('the client closed the connection'));
      if (!req.complete) fail(errors.badRequest('The upload was interrupted'));
    });
    req.pipe(bb);
  });
}

async function store(svc: MediaService, fields: Record<string, string>, stream: Readable): Promise<void> {
  const storage = await svc.storage();
  if (storage.kind !== 'local') {
    throw errors.badRequest('This server keeps media in an S3 bucket: upload to the uploadUrl of the presigned upload');
  }
  const policy = verifyUploadForm(await svc.secret(), fields, svc.clock.now());
  const [workspaceId, mediaId] = policy.key.split('/');
  if (workspaceId !== policy.workspaceId || !mediaId) throw errors.mediaAccessDenied('Upload refused: the key does not belong to the workspace of the policy');
  const claim = await svc.claimUpload(workspaceId, mediaId);
  if (claim === 'used') throw errors.conflict('This presigned upload was already used (or is being used right now): request a new presigned upload');
  if (claim === 'missing') throw errors.notFound('media upload');
  try {
    const { size } = await storage.put(policy.key, stream, { contentType: policy.contentType, maxBytes: policy.maxBytes });
    if (size < policy.minBytes) {
      await storage.delete(policy.key);
      throw errors.badRequest('The file is empty');
    }
    await svc.completeUpload(workspaceId, mediaId, size);
  } catch (err) {
    await svc.releaseUpload(workspaceId, mediaId);
    if (err instanceof MediaTooLargeError) throw errors.fileTooLarge(policy.maxBytes);
    throw err;
  }
}

const RATE_SLOTS = 10;

/**
 * Aborts an upload whose body arrives slower than the floor over a sliding window (kept as
 * RATE_SLOTS counters, so it slides in steps of a tenth of the window), or that takes longer than
 * the overall cap. A floor rather than a short fixed cap: a 100 MiB file on a slow link is fine, a
 * client trickling bytes to hold a connection is not. Time the server itself spends not reading
 * (waiting for the store) counts against the client too; local disk writes and the claim are far
 * quicker than a window.
 */
function watchRate(req: IncomingMessage, limits: UploadLimits, abort: (err: ApiError) => void): () => void {
  const slotMs = limits.windowMs / RATE_SLOTS;
  const minPerWindow = (limits.minBytesPerSecond * limits.windowMs) / 1000;
  const slots: number[] = [];
  let current = 0;
  const onData = (chunk: Buffer) => {
    current += chunk.length;
  };
  req.on('data', onData);
  const tick = setInterval(() => {
    slots.push(current);
    current = 0;
    if (slots.length > RATE_SLOTS) slots.shift();
    if (slots.length === RATE_SLOTS && minPerWindow > 0 && slots.reduce((a, b) => a + b, 0) < minPerWindow) {
      abort(
        errors.requestTimeout(
          `The upload was aborted: it arrived slower than ${limits.minBytesPerSecond} bytes per second over ${limits.windowMs / 1000} s`,
        ),
      );
    }
  }, slotMs);
  const deadline = setTimeout(() => abort(errors.requestTimeout(`The upload was aborted: it took longer than ${limits.timeoutMs / 1000} s`)), limits.timeoutMs);
  // The watch is about the client's socket: it never keeps the process alive on its own.
  tick.unref();
  deadline.unref();
  const stop = () => {
    clearInterval(tick);
    clearTimeout(deadline);
    req.off('data', onData);
  };
  // Once the body is in, what is left (storing, recording) is the server's time, not the client's.
  // A request that never completes (aborted, cut off) ends with 'close' instead: without it the
  // timers would outlive every aborted upload.
  req.once('end', stop);
  req.once('close', stop);
  if (req.readableEnded || req.destroyed) stop();
  return stop;
}
