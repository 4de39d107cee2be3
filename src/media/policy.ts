import { createHmac, timingSafeEqual } from 'node:crypto';
import { errors } from '../errors.ts';

// Aviary's own presigned POST (local storage), shaped like S3's so that the same client code works
// against either: the form carries the object key, the exact Content-Type and the workspace (and
// channel) as plain fields, plus `policy` (base64 of a JSON policy document listing every field it
// allows and the size range, with an expiry) and `x-aviary-signature` (HMAC-SHA256 of `policy`
// under the server's media key). The upload endpoint accepts the form only if the signature
// matches, the policy has not expired, every field equals what the policy says and no other field
// is present; the file must fit the size range.

export const POLICY_FIELD = 'policy';
export const SIGNATURE_FIELD = 'x-aviary-signature';
export const WORKSPACE_FIELD = 'x-aviary-meta-workspace-id';
export const CHANNEL_FIELD = 'x-aviary-meta-channel-id';

export type PolicyCondition = Record<string, string> | ['content-length-range', number, number];

export interface PolicyDocument {
  expiration: string;
  conditions: PolicyCondition[];
}

export interface UploadForm {
  fields: Record<string, string>;
}

export interface VerifiedPolicy {
  key: string;
  contentType: string;
  workspaceId: string;
  channelId: string | null;
  minBytes: number;
  maxBytes: number;
  expiresAt: Date;
}

const hmac = (secret: Buffer, data: string) => createHmac('sha256', secret).update(data).digest();

export function signUploadPolicy(
  secret: Buffer,
  p: { key: string; contentType: string; workspaceId: string; channelId: string | null; maxBytes: number; expiresAt: Date },
): Record<string, string> {
  const fields: Record<string, string> = {
    'Content-Type': p.contentType,
    key: p.key,
    [WORKSPACE_FIELD]: p.workspaceId,
    ...(p.channelId ? { [CHANNEL_FIELD]: p.channelId } : {}),
  };
  const doc: PolicyDocument = {
    expiration: p.expiresAt.toISOString(),
    conditions: [...Object.entries(fields).map(([k, v]) => ({ [k]: v })), ['content-length-range', 1, p.maxBytes]],
  };
  const policy = Buffer.from(JSON.stringify(doc)).toString('base64');
  return { ...fields, [POLICY_FIELD]: policy, [SIGNATURE_FIELD]: hmac(secret, policy).toString('hex') };
}

const denied = (why: string) => errors.mediaAccessDenied(`Upload refused: ${why}`);

/** Checks the form fields sent before the file; throws a 403 AccessDenied naming what is wrong. */
export function verifyUploadForm(secret: Buffer, fields: Record<string, string>, now = new Date()): VerifiedPolicy {
  const policy = fields[POLICY_FIELD];
  const signature = fields[SIGNATURE_FIELD];
  if (!policy || !signature) {
    throw denied(`the form has no "${!policy ? POLICY_FIELD : SIGNATURE_FIELD}" field; send every field of uploadFormData, then "file"`);
  }
  const expected = hmac(secret, policy);
  const given = /^[0-9a-f]{64}$/i.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw denied('the policy signature does not match; the policy or its signature was changed');
  }
  let doc: PolicyDocument;
  try {
    doc = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as PolicyDocument;
  } catch {
    throw denied('the policy cannot be read');
  }
  const expiresAt = new Date(doc.expiration);
  if (!(expiresAt.getTime() > now.getTime())) throw denied(`the policy expired at ${doc.expiration}; request a new presigned upload`);

  const allowed = new Set([POLICY_FIELD, SIGNATURE_FIELD]);
  let range: [number, number] = [0, Number.MAX_SAFE_INTEGER];
  for (const c of doc.conditions) {
    if (Array.isArray(c)) {
      if (c[0] === 'content-length-range') range = [c[1], c[2]];
      continue;
    }
    for (const [name, value] of Object.entries(c)) {
      allowed.add(name);
      const got = fields[name];
      if (got === undefined) throw denied(`the form has no "${name}" field, which the policy requires`);
      if (got !== value) {
        throw denied(
          name === 'Content-Type'
            ? `Content-Type is "${got}" but the policy allows only "${value}"; request a presigned upload for that content type`
            : `field "${name}" is "${got}" but the policy says "${value}"`,
        );
      }
    }
  }
  const extra = Object.keys(fields).filter((f) => !allowed.has(f));
  if (extra.length) throw denied(`field${extra.length > 1 ? 's' : ''} ${extra.map((f) => `"${f}"`).join(', ')} not allowed by the policy`);
  return {
    key: fields.key,
    contentType: fields['Content-Type'],
    workspaceId: fields[WORKSPACE_FIELD],
    channelId: fields[CHANNEL_FIELD] ?? null,
    minBytes: range[0],
    maxBytes: range[1],
    expiresAt,
  };
}

// ------------------------------------------------------------------------------- signed media links

const linkData = (workspaceId: string, mediaId: string, expires: number) => `GET\n/media/${workspaceId}/${mediaId}\n${expires}`;

/** Query string of a signed link to `/media/{ws}/{id}`, valid until `expiresAt`. */
export function signLink(secret: Buffer, workspaceId: string, mediaId: string, expiresAt: Date): string {
  const expires = Math.floor(expiresAt.getTime() / 1000);
  return `expires=${expires}&signature=${hmac(secret, linkData(workspaceId, mediaId, expires)).toString('hex')}`;
}

export function verifyLink(secret: Buffer, workspaceId: string, mediaId: string, query: { expires?: string; signature?: string }, now = new Date()): void {
  const expires = Number(query.expires);
  if (!query.signature || !Number.isInteger(expires)) throw errors.mediaAccessDenied('This media link needs its "expires" and "signature" parameters');
  const expected = hmac(secret, linkData(workspaceId, mediaId, expires));
  const given = /^[0-9a-f]{64}$/i.test(query.signature) ? Buffer.from(query.signature, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw errors.mediaAccessDenied('This media link\'s signature does not match');
  if (expires * 1000 <= now.getTime()) throw errors.mediaAccessDenied(`This media link expired at ${new Date(expires * 1000).toISOString()}`);
}
