import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import type { Logger } from 'pino';
import type { ConnectorContext, ProviderEvent } from '../connector.ts';
import { parseDeliveryStatus, receiptFor, returnedMessageId, verpId } from './delivery-status.ts';

// Aviary's one SMTP listener per process, shared by every smtp channel that receives. Channels
// register the addresses and domains they take when their session opens and leave on close; the
// server runs only while someone is registered, so a process with no receiving channel opens no
// port. A DATA is answered 250 only after ctx.report resolved: the mail is then stored durably, and
// if storing fails the sender gets a 451 and retries, so nothing is lost or stored half.

export interface ListenOptions { port: number; host: string; certPath?: string; keyPath?: string; maxBytes: number }

export interface Registration {
  addresses: string[];
  domains: string[];
  /** Envelope sender of the channel: bounces come back here (VERP: `bounce+{id}@domain`). */
  returnPath: string;
  /** Domain of the channel's Message-IDs: an ENVID or VERP id becomes a reference with it. */
  referenceDomain: string;
  source: string;
  ctx: ConnectorContext;
}

// smtp-server puts the enhanced status code (RFC 3463) before the text itself, from the reply code
// (550 5.1.1, 552 5.3.4 for its own size refusal, 554 5.6.0, 451 4.3.0), so the texts here carry none.
class SmtpReject extends Error {
  constructor(readonly responseCode: number, message: string) { super(message); }
}

export class SmtpListener {
  private regs = new Set<Registration>();
  private server: SMTPServer | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly opts: ListenOptions, private readonly log?: Logger) {}

  /** The port actually bound (useful with port 0). */
  port(): number | undefined {
    const a = (this.server as unknown as { server?: { address(): AddressInfo | null } })?.server?.address();
    return a?.port;
  }

  async register(r: Registration): Promise<() => Promise<void>> {
    this.regs.add(r);
    try {
      await (this.starting ??= this.start());
    } catch (err) {
      // Port taken or certificate unreadable: the channel's open fails and the next one tries again.
      this.regs.delete(r);
      this.server = undefined;
      this.starting = undefined;
      throw err;
    }
    return async () => {
      if (!this.regs.delete(r) || this.regs.size > 0) return;
      const s = this.server;
      this.server = undefined;
      this.starting = undefined;
      await new Promise<void>((resolve) => s?.close(() => resolve()) ?? resolve());
    };
  }

  private route(address: string): Registration | undefined {
    const a = address.toLowerCase();
    const domain = a.slice(a.lastIndexOf('@') + 1);
    for (const r of this.regs) {
      const rp = r.returnPath.toLowerCase();
      const verp = rp.includes('{id}') && new RegExp(`^${escape(rp).replace('\\{id\\}', '[0-9a-f-]{36}')}$`).test(a);
      if (r.addresses.includes(a) || rp === a || verp) return r;
    }
    for (const r of this.regs) if (r.domains.includes(domain)) return r;
    return undefined;
  }

  private start(): Promise<void> {
    const { certPath, keyPath } = this.opts;
    const tls = certPath && keyPath ? { cert: readFileSync(certPath), key: readFileSync(keyPath) } : {};
    const server = new SMTPServer({
      ...tls,
      disabledCommands: certPath && keyPath ? ['AUTH'] : ['AUTH', 'STARTTLS'],
      authOptional: true,
      size: this.opts.maxBytes,
      // smtp-server answers an oversized DATA itself (552 5.3.4) whatever onData reports.
      rejectOversized: true,
      hideDSN: false,
      hideENHANCEDSTATUSCODES: false,
      banner: 'Aviary',
      logger: false,
      onRcptTo: (address: SMTPServerAddress, _s: SMTPServerSession, cb: (err?: Error | null) => void) => {
        cb(this.route(address.address) ? null : new SmtpReject(550, `<${address.address}>: no such recipient here`));
      },
      onData: (stream: NodeJS.ReadableStream, session: SMTPServerSession, cb: (err?: Error | null) => void) => {
        // smtp-server keeps reading a message past the SIZE limit (it must, to find its end and answer
        // 552), so the bytes past the limit are counted and thrown away, never held: a sender that
        // declares no SIZE cannot make the process buffer more than the limit.
        const chunks: Buffer[] = [];
        let bytes = 0;
        stream.on('data', (c: Buffer) => {
          bytes += c.length;
          if (bytes <= this.opts.maxBytes) chunks.push(c);
          else chunks.length = 0;
        });
        stream.on('end', () => {
          if (bytes > this.opts.maxBytes || (stream as unknown as { sizeExceeded: boolean }).sizeExceeded) {
            cb(new SmtpReject(552, 'Message exceeds the size limit'));
            return;
          }
          this.accept(Buffer.concat(chunks), session).then(() => cb(), (err: Error) => cb(err));
        });
      },
    } as any);
    server.on('error', (err: Error) => this.log?.warn({ err }, 'smtp listener error'));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => { server.server.off('error', reject); resolve(); });
    });
  }

  private async accept(raw: Buffer, session: SMTPServerSession): Promise<void> {
    let mail: ParsedMail;
    try {
      if (!/^[\x21-\x39\x3b-\x7e]+:/m.test(raw.subarray(0, 4096).toString('latin1'))) throw new Error('no header');
      mail = (await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true })) as ParsedMail;
      checkMime(raw, mail);
    } catch (err) {
      throw new SmtpReject(554, `Malformed message: ${(err as Error).message}`);
    }
    const sender = typeof session.envelope.mailFrom === 'object' ? session.envelope.mailFrom.address : '';
    // The listener takes one message for possibly several channels: each named recipient's channel.
    const targets = new Set(session.envelope.rcptTo.map((r) => this.route(r.address)).filter((r): r is Registration => !!r));
    try {
      for (const reg of targets) {
        const events = await eventsFor(raw, mail, sender, session.envelope.rcptTo.map((r) => r.address), reg);
        if (events.length) await reg.ctx.report(events);
      }
    } catch (err) {
      this.log?.error({ err }, 'storing an inbound email failed');
      throw new SmtpReject(451, 'Could not store the message, try again later');
    }
  }
}

/** The body of each top-level part of a multipart report by its content type (7bit text parts). */
function reportParts(raw: Buffer, boundary: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!boundary) return out;
  for (const part of raw.toString('utf8').split(`--${boundary}`).slice(1)) {
    const m = part.match(/^\r?\n([\s\S]*?)\r?\n\r?\n([\s\S]*)$/);
    if (!m) continue;
    const type = m[1].match(/^content-type:\s*([^;\s]+)/im)?.[1]?.toLowerCase();
    if (type && !out.has(type)) out.set(type, m[2]);
  }
  return out;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** mailparser is lenient; a multipart whose boundary never appears is what "bad MIME" means here. */
function checkMime(raw: Buffer, mail: ParsedMail): void {
  const ct = mail.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  if (ct?.value?.startsWith('multipart/')) {
    const b = ct.params?.boundary;
    if (!b) throw new Error('multipart without a boundary');
    if (!raw.includes(`--${b}`)) throw new Error('multipart boundary never appears');
    if (!raw.includes(`--${b}--`)) throw new Error('multipart not terminated');
  }
}

async function eventsFor(raw: Buffer, mail: ParsedMail, sender: string, rcpts: string[], reg: Registration): Promise<ProviderEvent[]> {
  const ct = mail.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  const isReport = ct?.value === 'multipart/report' && ct.params?.['report-type']?.toLowerCase() === 'delivery-status';
  const fromAddress = mail.from?.value[0]?.address?.toLowerCase() ?? sender.toLowerCase();
  if (isReport) {
    // mailparser folds message/delivery-status into the text, so the report's parts are read raw.
    const parts = reportParts(raw, ct.params?.boundary ?? '');
    const dsn = parseDeliveryStatus(parts.get('message/delivery-status') ?? '');
    const returned = parts.get('text/rfc822-headers') ?? parts.get('message/rfc822');
    const fromHeaders = returned ? returnedMessageId(returned.split(/\r?\n\r?\n/)[0]) : undefined;
    const id = dsn.envelopeId ?? rcpts.map(verpId).find(Boolean);
    const reference = fromHeaders ?? (id && /^[0-9a-f-]{36}$/i.test(id) ? `${id.toLowerCase()}@${reg.referenceDomain}` : undefined);
    const receipt = receiptFor(dsn, reference, reg.source);
    if (!receipt) reg.ctx.log.warn({ from: fromAddress, envelopeId: dsn.envelopeId }, 'a delivery report naming no message of ours was dropped');
    return receipt ? [receipt] : [];
  }
  if (sender === '' && /^(mailer-daemon|postmaster)@/.test(fromAddress)) {
    reg.ctx.log.warn({ from: fromAddress, subject: mail.subject }, 'a non-standard bounce was dropped');
    return [];
  }
  if (!fromAddress) return [];
  const attachments = [];
  for (const a of mail.attachments) {
    const mediaUrl = await reg.ctx.storeMedia(a.content, a.contentType, a.filename);
    attachments.push({ mediaUrl, filename: a.filename ?? 'attachment', ...(a.contentDisposition === 'inline' || a.related ? { inline: true } : {}), ...(a.cid ? { contentId: a.cid } : {}) });
  }
  const metadata = { subject: mail.subject ?? '' };
  const html = typeof mail.html === 'string' ? mail.html : undefined;
  const body = html
    ? { type: 'html', html: { html, ...(mail.text ? { text: mail.text } : {}), ...(attachments.length ? { attachments } : {}), metadata } }
    : { type: 'text', text: { text: mail.text?.trim() || '(empty)', ...(attachments.length ? { attachments } : {}), metadata } };
  const inReplyTo = (mail.inReplyTo ?? [mail.references].flat().filter(Boolean).pop())?.replace(/^<|>$/g, '');
  return [{
    kind: 'inbound',
    contact: { identifierKey: 'emailaddress', identifierValue: fromAddress },
    body,
    meta: { email: { subject: mail.subject ?? '', headers: { 'Message-Id': mail.messageId ?? '' } } },
    ...(mail.messageId ? { platformReference: mail.messageId.replace(/^<|>$/g, '') } : {}),
    ...(inReplyTo ? { inReplyToReference: inReplyTo } : {}),
  }];
}
