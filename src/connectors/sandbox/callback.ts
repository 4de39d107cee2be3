import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Channel } from '../../channels/channels.ts';
import type { CallbackRequest, CallbackResponse, ProviderEvent } from '../connector.ts';

// The sandbox's provider callback: what a real provider's webhook does (push an incoming message or a
// status), for a test or a script to play the provider over HTTP, through the same route and durable
// path as the real ones (connectors/callback-routes.ts). It is signed as providers sign theirs: an
// HMAC-SHA256 of the raw body with the channel's `callbackSecret`, in
// `X-Sandbox-Signature: sha256=<hex>`, checked before anything is read. A channel without a secret
// takes no callbacks.
//
//   POST /connectors/sandbox/{workspaceId}/{channelId}/events
//   {"events": [{"type": "inbound", "contact": {"identifierValue": "+31612345678"}, "body": {...}},
//               {"type": "status", "messageId": "...", "status": "delivered"}]}

const IDENTIFIER_KEYS: Record<string, string> = { sms: 'phonenumber', whatsapp: 'phonenumber', email: 'emailaddress' };
const STATUSES = new Set(['sent', 'delivered', 'delivery_failed']);

export function sandboxCallback(channel: Channel, req: CallbackRequest): CallbackResponse {
  const secret = channel.connectorConfig.callbackSecret;
  if (typeof secret !== 'string' || secret === '') return reply(404, 'this channel takes no callbacks: set connector.config.callbackSecret');
  if (req.method !== 'POST' || req.path !== '/events') return reply(404, 'POST /events is the only callback');
  const header = req.headers['x-sandbox-signature'];
  const given = Buffer.from(String(Array.isArray(header) ? header[0] : header ?? ''));
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(req.rawBody).digest('hex')}`);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return reply(401, 'bad or missing X-Sandbox-Signature');
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.rawBody.toString('utf8'));
  } catch {
    return reply(400, 'the body is not JSON');
  }
  const list = (parsed as { events?: unknown }).events;
  if (!Array.isArray(list) || list.length === 0 || list.length > 1000) return reply(400, '`events` must be a list of 1 to 1000 events');
  const events: ProviderEvent[] = [];
  for (const [i, e] of list.entries()) {
    const event = toEvent(channel, e as Record<string, any>);
    if (typeof event === 'string') return reply(400, `events[${i}]: ${event}`);
    events.push(event);
  }
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ accepted: events.length }), events };
}

function toEvent(channel: Channel, e: Record<string, any>): ProviderEvent | string {
  if (e?.type === 'inbound') {
    const value = e.contact?.identifierValue;
    if (typeof value !== 'string' || value.trim() === '') return 'contact.identifierValue is required';
    if (!e.body || typeof e.body !== 'object' || typeof e.body.type !== 'string') return 'body must be a message body with a type';
    const key = typeof e.contact.identifierKey === 'string' ? e.contact.identifierKey : (IDENTIFIER_KEYS[channel.platform] ?? 'phonenumber');
    return { kind: 'inbound', contact: { identifierKey: key, identifierValue: value }, body: e.body };
  }
  if (e?.type === 'status') {
    if (typeof e.messageId !== 'string' || !/^[0-9a-f-]{36}$/i.test(e.messageId)) return 'messageId must be a message id';
    if (!STATUSES.has(e.status)) return 'status must be sent, delivered or delivery_failed';
    return { kind: 'status', messageId: e.messageId.toLowerCase(), status: e.status, ...(typeof e.reason === 'string' ? { reason: e.reason } : {}) };
  }
  return 'type must be inbound or status';
}

function reply(status: number, message: string): CallbackResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message }) };
}
