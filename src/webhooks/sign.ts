import { createHash, createHmac, randomBytes } from 'node:crypto';

// How deliveries are signed.
//
// Bird (headers messagebird-signature, messagebird-request-timestamp, messagebird-request-id):
//   signature = base64( HMAC-SHA256( key = the subscription's signingKey as UTF-8 bytes,
//                                    data = timestamp + "\n" + url + "\n" + SHA-256(body) as 32 raw bytes ) )
// where timestamp is unix seconds as a decimal string, url the subscription URL exactly as stored and
// body the exact request body.
//
// Standard Webhooks (headers webhook-id, webhook-timestamp, webhook-signature; per-subscription option):
//   signature = "v1," + base64( HMAC-SHA256( key, id + "." + timestamp + "." + body ) )
// where key is the base64-decoded part after "whsec_" when the signingKey has that prefix (the form
// Standard Webhooks libraries expect), and otherwise the signingKey's UTF-8 bytes.

export function birdSignature(signingKey: string, timestamp: string, url: string, body: string | Buffer): string {
  const digest = createHash('sha256').update(body).digest();
  return createHmac('sha256', signingKey).update(`${timestamp}\n${url}\n`).update(digest).digest('base64');
}

export function standardWebhooksKey(signingKey: string): Buffer {
  return signingKey.startsWith('whsec_') ? Buffer.from(signingKey.slice(6), 'base64') : Buffer.from(signingKey, 'utf8');
}

export function standardWebhooksSignature(signingKey: string, id: string, timestamp: string, body: string | Buffer): string {
  const mac = createHmac('sha256', standardWebhooksKey(signingKey)).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/** A new signing key when the subscription names none: 32 random bytes, base64 (Bird's form). */
export function generateSigningKey(): string {
  return randomBytes(32).toString('base64');
}
