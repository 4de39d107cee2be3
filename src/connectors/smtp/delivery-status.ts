import type { ProviderEvent } from '../connector.ts';
import { failures } from '../failures.ts';

// RFC 3464 delivery status notifications into receipts. A report names the message it is about in
// three ways, tried in order of trust: the returned headers' Message-ID (exactly our reference), the
// Original-Envelope-Id (ENVID = Aviary's message id), and a VERP return path (bounce+{id}@domain).

export interface DsnRecipient { action: string; status?: string; diagnostic?: string; finalRecipient?: string }
export interface DeliveryStatus { envelopeId?: string; recipients: DsnRecipient[] }

/** Parses the body of a message/delivery-status part: a per-message block, then one per recipient. */
export function parseDeliveryStatus(text: string): DeliveryStatus {
  const blocks = text.replace(/\r\n/g, '\n').split(/\n[ \t]*\n/).map(fields).filter((b) => b.size > 0);
  const first = blocks[0] ?? new Map<string, string>();
  const recipients = blocks
    .filter((b) => b.has('action'))
    .map((b) => ({
      action: b.get('action')!.toLowerCase(),
      status: b.get('status')?.match(/[245]\.\d{1,3}\.\d{1,3}/)?.[0],
      diagnostic: b.get('diagnostic-code'),
      finalRecipient: b.get('final-recipient')?.replace(/^rfc822;\s*/i, ''),
    }));
  return { envelopeId: first.get('original-envelope-id')?.trim(), recipients };
}

function fields(block: string): Map<string, string> {
  const out = new Map<string, string>();
  // Header folding: continuation lines start with white space.
  for (const line of block.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return out;
}

/** The Message-ID in returned headers (text/rfc822-headers or message/rfc822), without brackets. */
export function returnedMessageId(headersText: string): string | undefined {
  return headersText.replace(/\r\n/g, '\n').match(/^message-id:\s*<([^>\s]+)>/im)?.[1];
}

/** The Aviary message id in a VERP address `bounce+{id}@domain`. */
export function verpId(address: string | undefined): string | undefined {
  return address?.match(/^[^+@]+\+([0-9a-f-]{36})@/i)?.[1];
}

/**
 * The receipt for a report, or undefined when it names no message we could have sent. The most
 * telling recipient wins: any failure, else a delay, else a delivery (one message, one outcome).
 */
export function receiptFor(dsn: DeliveryStatus, reference: string | undefined, source: string): ProviderEvent | undefined {
  if (!reference) return undefined;
  const pick = (a: string) => dsn.recipients.find((r) => r.action === a);
  const failed = pick('failed');
  if (failed) {
    const code = failed.status ?? '5.0.0';
    const base = code.startsWith('5.1.') ? failures.unknownSubscriber(source, code) : failures.rejected(source, code);
    return {
      kind: 'receipt', reference, status: 'delivery_failed', settles: 'any',
      failure: base,
      reason: `${code}${failed.diagnostic ? `: ${failed.diagnostic}` : ''}`.slice(0, 1000),
      details: failed.diagnostic,
    };
  }
  const delayed = pick('delayed');
  if (delayed) return { kind: 'receipt', reference, status: 'sent', settles: 'any', reason: delayed.diagnostic };
  if (pick('delivered') || pick('relayed') || pick('expanded')) return { kind: 'receipt', reference, status: 'delivered', settles: 'any' };
  return undefined;
}
