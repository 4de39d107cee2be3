import type { Channel } from '../../channels/channels.ts';
import type { ConnectorContext, OutboundMessage, SendResult, Session } from '../connector.ts';
import { randomHex } from '../../ids.ts';
import { failures } from '../failures.ts';
import { AttachmentError, buildMail, messageIdFor } from './build-mail.ts';
import { SmtpPool } from './pool.ts';
import { renderMail } from './render-mime.ts';
import type { SmtpChannelConfig } from './config-schema.ts';
import { sendFailure, type SmtpErrorLike } from './smtp-failure.ts';

// One channel's outbound side: a pool of SMTP connections (pool.ts) fed with mails rendered here
// (render-mime.ts). Sends are one message to all its to/cc/bcc receivers, so a multi-receiver email has one
// part whose reference is its Message-ID, and ends at `sent` (Bird: no single delivery outcome).

const QUEUED_PER_CONNECTION = 8;

export function openOutbound(channel: Channel, config: SmtpChannelConfig, ctx: ConnectorContext): Session & { onClose?: () => void } {
  const poolSize = config.poolSize ?? 5;
  const pool = new SmtpPool({
    size: poolSize,
    connection: {
      host: config.host,
      port: config.port,
      secure: config.tls === 'implicit',
      requireTLS: config.tls === 'starttls',
      ignoreTLS: config.tls === 'none',
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
    },
    auth: config.auth ? { user: config.auth.user, pass: config.auth.password } : undefined,
  });
  const source = channel.platformId;

  async function send(msg: OutboundMessage, signal: AbortSignal): Promise<SendResult> {
    let mail;
    try {
      mail = await buildMail(msg, config, ctx);
    } catch (err) {
      // An attachment URL that answers 4xx/5xx is the message's fault: no retry helps. A fetch that
      // failed on the network (or the guard's timeout) may pass next time, so that one is retried.
      if (err instanceof AttachmentError) {
        return { ok: false, retryable: false, failure: failures.invalidMessage((err as Error).message, source), reason: (err as Error).message };
      }
      return { ok: false, retryable: true, failure: failures.dependencyError((err as Error).message, source), reason: (err as Error).message };
    }
    const options = {
      ...mail,
      from: mail.from.name ? { name: mail.from.name, address: mail.from.address } : mail.from.address,
      // Without it every MIME node draws its own random bytes from OpenSSL (3 a mail: 7% of the
      // worker's time in bench email-out); the parts' boundaries differ by their node ids anyway.
      baseBoundary: randomHex(8),
    };
    // DSN asks only for failures and delays by default: a success notice per mail doubles the
    // inbound traffic for little use. SMTPConnection sends RET/ENVID/NOTIFY only if the relay offers DSN.
    const dsn = config.dsn === false ? undefined : { ret: 'HDRS' as const, envid: msg.id, notify: ['FAILURE' as const, 'DELAY' as const] };
    // Rendered here into one buffer and handed to the pool as `raw`: when nodemailer streams the
    // MIME tree to the socket itself, each header block and part is a write (a syscall) of its own,
    // a dozen a mail; one buffer leaves in one or two. The cost is the mail held whole in memory
    // once, bounded by the window.
    let raw: Buffer;
    try {
      raw = await renderMail(options);
    } catch (err) {
      return { ok: false, retryable: false, failure: failures.invalidMessage((err as Error).message, source), reason: (err as Error).message };
    }
    const sent = pool.send({ ...mail.envelope, dsn }, raw);
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    sent.catch(() => {});
    try {
      const info = await Promise.race([sent, aborted]);
      if (info.accepted.length === 0) {
        return sendFailure(source, { responseCode: 550, response: String(info.rejectedErrors?.[0]?.response ?? info.response) });
      }
      const reference = messageIdFor(msg.id, config);
      return { ok: true, parts: [{ platformReference: reference }], final: mail.envelope.to.length > 1 || undefined };
    } catch (err) {
      if (signal.aborted) throw err;
      const e = err as SmtpErrorLike & { rejectedErrors?: SmtpErrorLike[] };
      return sendFailure(source, e.rejectedErrors?.[0] ?? e);
    }
  }

  return {
    // SMTP sends one message at a time per connection, but the pool queues the rest and hands
    // each to the next free connection at once, with no round trip through the dispatcher's
    // claim loop in between. A window of one per connection left each connection idle between a send
    // and the next claim (bench/email.ts: 120 emails/s with 10 connections, 0.2 cores busy); eight
    // per connection keeps them busy while the queue, bounded by the window, stays small against the
    // send timeout (a 2 KB mail takes about a millisecond on a warm connection).
    window: poolSize * QUEUED_PER_CONNECTION,
    send,
    close: () => pool.close(),
  };
}
