import { domainToASCII } from 'node:url';
import type { ConnectorContext, OutboundMessage } from '../connector.ts';
import type { SmtpChannelConfig } from './config-schema.ts';

// Turns an Aviary message into nodemailer's mail options. Attachments are fetched here, through the
// context (signed links for Aviary's own media, the URL guard for anything else), never by nodemailer
// from a URL, which would bypass the guard.

export interface MailAttachment { filename?: string; content: Buffer; contentType?: string; cid?: string; contentDisposition?: 'attachment' | 'inline' }
export interface BuiltMail {
  from: { address: string; name: string };
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  text?: string;
  html?: string;
  replyTo?: string;
  headers: Record<string, string>;
  messageId: string;
  attachments: MailAttachment[];
  envelope: { from: string; to: string[] };
}

interface Attachment { mediaUrl?: string; filename?: string; inline?: boolean; contentId?: string; content?: string; contentType?: string }

/** The Message-ID (without brackets) that is also the part's platformReference: stable across retries. */
export function messageIdFor(messageId: string, config: SmtpChannelConfig): string {
  return `${messageId}@${domainOf(config.from.address)}`;
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** The envelope sender: VERP `bounce+{id}@d` puts the message id in the address bounces come back to. */
export function returnPathFor(messageId: string, config: SmtpChannelConfig): string {
  const rp = config.returnPath ?? config.from.address;
  return rp.replace('{id}', messageId);
}

export async function buildMail(msg: OutboundMessage, config: SmtpChannelConfig, ctx: ConnectorContext): Promise<BuiltMail> {
  const body = (msg.body ?? { type: 'text' }) as Record<string, any>;
  const inner = (body[body.type] ?? {}) as Record<string, any>;
  const metaEmail = (msg.meta?.email ?? {}) as { subject?: string; headers?: Record<string, string>; from?: { username?: string; displayName?: string } };
  const metadata = (inner.metadata ?? {}) as { subject?: string; headers?: Record<string, string>; emailFrom?: { username?: string; displayName?: string } };
  const fromMeta = metadata.emailFrom ?? metaEmail.from;
  const domain = domainOf(config.from.address);
  const from = {
    address: fromMeta?.username ? `${fromMeta.username}@${domain}` : config.from.address,
    name: fromMeta?.displayName ?? config.from.name ?? '',
  };
  const by = (t: string) => msg.recipients.filter((r) => (r.type ?? 'to') === t).map((r) => r.platformAddress || r.identifierValue);
  const headers: Record<string, string> = { ...metaEmail.headers, ...metadata.headers };
  let replyTo: string | undefined;
  for (const k of Object.keys(headers)) {
    // Reply-To is a real header field nodemailer builds itself; headers that frame the MIME are ours.
    if (k.toLowerCase() === 'reply-to') { replyTo = headers[k]; delete headers[k]; }
    else if (/^(content-|mime-version$|message-id$|from$|to$|cc$|bcc$|subject$)/i.test(k)) delete headers[k];
  }
  headers['X-Aviary-Message-Id'] = msg.id;
  if (msg.reference) headers['X-Aviary-Reference'] = msg.reference;

  const attachments: MailAttachment[] = [];
  const list: Attachment[] = [...(inner.attachments ?? [])];
  if (body.type === 'image') for (const i of inner.images ?? []) list.push({ mediaUrl: i.mediaUrl });
  if (body.type === 'file') for (const f of inner.files ?? []) list.push({ mediaUrl: f.mediaUrl, filename: f.filename, contentType: f.contentType });
  for (const a of list) attachments.push(await attachmentOf(a, ctx));

  let text: string | undefined;
  let html: string | undefined;
  if (body.type === 'html') { text = inner.text; html = inner.html; }
  else text = inner.text;
  const to = by('to');
  const cc = by('cc');
  const bcc = by('bcc');
  return {
    from,
    to, cc, bcc,
    subject: metadata.subject ?? metaEmail.subject ?? '',
    text, html, replyTo, headers,
    messageId: `<${messageIdFor(msg.id, config)}>`,
    attachments,
    envelope: { from: envelopeAddress(returnPathFor(msg.id, config)), to: [...to, ...cc, ...bcc].map(envelopeAddress) },
  };
}

/** An address as MAIL FROM / RCPT TO carry it: an internationalised domain in its ASCII (punycode) form. */
function envelopeAddress(address: string): string {
  const at = address.lastIndexOf('@');
  const domain = address.slice(at + 1);
  // eslint-disable-next-line no-control-regex
  if (at < 0 || /^[\x00-\x7f]*$/.test(domain)) return address;
  return `${address.slice(0, at)}@${domainToASCII(domain) || domain}`;
}

async function attachmentOf(a: Attachment, ctx: ConnectorContext): Promise<MailAttachment> {
  const disposition = a.inline || a.contentId ? 'inline' : 'attachment';
  if (a.content !== undefined) {
    return { filename: a.filename, content: Buffer.from(a.content, 'base64'), contentType: a.contentType, cid: a.contentId, contentDisposition: disposition };
  }
  const url = a.mediaUrl!;
  const res = await ctx.fetch(await ctx.mediaLink(url));
  if (!res.ok) throw new AttachmentError(`attachment ${url}: HTTP ${res.status}`);
  const content = Buffer.from(await res.arrayBuffer());
  const filename = a.filename ?? (decodeURIComponent(new URL(url).pathname.split('/').pop() || 'attachment'));
  return { filename, content, contentType: a.contentType ?? res.headers.get('content-type') ?? undefined, cid: a.contentId, contentDisposition: disposition };
}

export class AttachmentError extends Error {}
