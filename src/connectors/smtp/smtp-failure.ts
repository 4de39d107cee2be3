import { failures, type Failure } from '../failures.ts';
import type { SendResult } from '../connector.ts';

// How an SMTP outcome maps onto Bird's failures. The reply code decides retry: 4xx (and 421, dropped
// connections, timeouts) are transient and go back to the dispatcher's backoff; 5xx are final.
// 5.7.x is policy or authentication: a message that the relay refuses for who we are, which no retry
// fixes and which the channel's owner must fix, so it is reported as a channel configuration failure.

export interface SmtpErrorLike {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

/** The enhanced status code (RFC 3463) in a reply line, e.g. "5.1.1" in "550 5.1.1 <x>: unknown". */
export function enhancedCode(reply: string | undefined): string | undefined {
  return reply?.match(/^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/)?.[1];
}

export function failureFor(source: string, replyCode: number, enhanced: string | undefined): Failure {
  const code = enhanced ? `${replyCode} ${enhanced}` : String(replyCode);
  if (enhanced?.startsWith('5.7.') || replyCode === 530 || replyCode === 535) {
    const f = failures.invalidChannelConfiguration(`the relay refused it by policy or authentication (${code})`);
    return { ...f, source: { name: source, code } };
  }
  if (enhanced?.startsWith('5.1.')) return failures.unknownSubscriber(source, code);
  return failures.rejected(source, code);
}

export function sendFailure(source: string, err: SmtpErrorLike): Extract<SendResult, { ok: false }> {
  const reply = err.response ?? err.message ?? 'unknown SMTP error';
  const rc = err.responseCode;
  // TLS required but not offered (the relay answers STARTTLS with a 5xx: ETLS, checked before the
  // reply code), or a certificate that does not verify: the channel's configuration, never a retry.
  if (err.code === 'ETLS' || /certificate|STARTTLS/i.test(err.message ?? '')) {
    return { ok: false, retryable: false, failure: { ...failures.invalidChannelConfiguration(`TLS: ${err.message}`), source: { name: source, code: err.code ?? 'ETLS' } }, reason: (err.message ?? reply).slice(0, 500) };
  }
  if (rc && rc >= 500) {
    return { ok: false, retryable: false, failure: failureFor(source, rc, enhancedCode(err.response)), reason: reply.slice(0, 500) };
  }
  if (err.code === 'EAUTH' && !rc) {
    return { ok: false, retryable: false, failure: { ...failures.invalidChannelConfiguration('authentication failed'), source: { name: source, code: 'EAUTH' } }, reason: reply };
  }
  const code = rc ? `${rc}${enhancedCode(err.response) ? ' ' + enhancedCode(err.response) : ''}` : (err.code ?? 'ECONNECTION');
  return { ok: false, retryable: true, failure: failures.networkError(source, code), reason: reply.slice(0, 500) };
}
