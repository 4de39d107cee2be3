import type { Channel } from '../../channels/channels.ts';
import type { Platform } from '../../channels/platforms.ts';
import { failures } from '../failures.ts';
import { statelessSession, type CallbackRequest, type CallbackResponse, type Capabilities, type ConfigSchema, type Connector, type FollowUp, type OutboundMessage, type SendResult, type Session } from '../connector.ts';
import { smsSegments } from '../sms-segments.ts';
import { sandboxCallback } from './callback.ts';
import { applyChaos, type ChaosSource } from './chaos.ts';
import { scenarioFor } from './scenarios.ts';

// The sandbox is a provider that lives inside Aviary: it accepts what the real platform would accept,
// answers like it (including its failures, picked by magic receivers: scenarios.ts) and reports
// receipts later, scheduled durably through `followUps`. It uses no randomness and no clock of its
// own: the same messages always produce the same results, references and receipts.

const set = (...v: string[]) => new Set(v);

// What each platform carries, as the real platforms do.
const CAPABILITIES: Record<Platform, Capabilities> = {
  sms: { bodyTypes: set('text'), actions: set() },
  whatsapp: {
    bodyTypes: set('text', 'image', 'file', 'gif', 'location', 'list', 'carousel', 'section', 'authentication'),
    actions: set('reply', 'link', 'postback', 'locationRequest', 'buy'),
  },
  email: { bodyTypes: set('text', 'html', 'image', 'file'), actions: set('link') },
  rcs: { bodyTypes: set('text', 'image', 'file', 'carousel', 'list'), actions: set('reply', 'link', 'postback', 'locationRequest') },
  telegram: { bodyTypes: set('text', 'image', 'file', 'gif', 'location'), actions: set('reply', 'link', 'postback') },
  line: { bodyTypes: set('text', 'image', 'file', 'location', 'carousel'), actions: set('reply', 'link', 'postback') },
  'apple-business-chat': {
    bodyTypes: set('text', 'image', 'file', 'list', 'location', 'section', 'authentication', 'action'),
    actions: set('reply', 'link', 'postback', 'buy'),
  },
  instagram: { bodyTypes: set('text', 'image', 'file', 'gif', 'carousel'), actions: set('reply', 'link', 'postback') },
  facebook: { bodyTypes: set('text', 'image', 'file', 'gif', 'carousel'), actions: set('reply', 'link', 'postback') },
  viber: { bodyTypes: set('text', 'image', 'file'), actions: set('link', 'reply') },
};

export const DEFAULT_RECEIPT_DELAY_MS = 100;

const CONFIG_SCHEMA: ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    receiptDelayMs: { type: 'integer', minimum: 0, maximum: 86_400_000, description: 'How long after a send its receipt arrives (default 100).' },
    fetchInboundMedia: { type: 'boolean', description: 'Fetch media of simulated inbound messages from outside URLs into the store.' },
    callbackSecret: { type: 'string', minLength: 16, maxLength: 256, writeOnly: true, description: 'Signs provider-style callbacks to POST /connectors/sandbox/{workspaceId}/{channelId}/events (X-Sandbox-Signature: sha256=HMAC of the body); unset: no callbacks.' },
  },
};

export class SandboxConnector implements Connector {
  readonly type = 'sandbox';
  readonly configSchema = CONFIG_SCHEMA;
  // The sandbox knows the message when it schedules its receipts: they name it, not a reference.
  readonly receiptsByReference = false;
  readonly listens = false;

  /** `chaos`: the failure-injection rules (chaos.ts), read from a per-process cache, never a query per send. */
  constructor(private readonly chaos?: ChaosSource) {}

  callback(channel: Channel, request: CallbackRequest): Promise<CallbackResponse> {
    return Promise.resolve(sandboxCallback(channel, request));
  }

  async open(): Promise<Session> {
    return statelessSession((message) => this.send(message), 1000);
  }

  capabilities(platform: Platform): Capabilities | undefined {
    return CAPABILITIES[platform];
  }

  async send(msg: OutboundMessage): Promise<SendResult> {
    const rules = this.chaos && (await this.chaos.rulesFor(msg.workspaceId));
    return applyChaos(rules, msg, receiptDelay(msg), () => this.answer(msg));
  }

  /** What the sandbox answers without failure injection: its magic receivers (scenarios.ts) decide. */
  private answer(msg: OutboundMessage): SendResult {
    const source = msg.channel.platformId;
    const first = msg.recipients[0];
    const scenario = scenarioFor(first.identifierKey, first.identifierValue, msg.platform);
    const delay = receiptDelay(msg);
    switch (scenario) {
      case 'network-error':
        return { ok: false, retryable: true, failure: failures.networkError(source), reason: 'network error' };
      case 'flaky':
        if (msg.attempt < 3) return { ok: false, retryable: true, failure: failures.networkError(source), reason: 'network error' };
        break;
      case 'throttled':
        if (msg.attempt < 2) return { ok: false, retryable: true, retryAfterMs: 1000, failure: failures.networkError(source, '429'), reason: 'throttled' };
        break;
      case 'rejected':
        return { ok: false, retryable: false, failure: failures.rejected(source, '5'), reason: 'rejected', details: 'rejected' };
      case 'unsupported-destination':
        return { ok: false, retryable: false, failure: failures.unsupportedDestination(`no route to ${first.platformAddress}`, source) };
    }

    const text = bodyText(msg);
    const segments = msg.platform === 'sms' ? smsSegments(text).count : 1;
    // One receiver of several (submitted one by one): its references and receipts name it.
    const r = msg.receiverIndex;
    const parts = Array.from({ length: segments }, (_, i) => ({ platformReference: r === undefined ? `${msg.id}:${i + 1}` : `${msg.id}:r${r + 1}:${i + 1}` }));
    // Email to several recipients has no single delivery outcome: Bird stops at `sent`.
    if (msg.platform === 'email' && msg.recipients.length > 1) return { ok: true, parts, final: true };

    const status = (afterMs: number, status: 'sent' | 'delivered' | 'delivery_failed', extra: Partial<FollowUp['event']> = {}): FollowUp => ({
      afterMs,
      event: { kind: 'status', messageId: msg.id, status, ...(r === undefined ? {} : { receiver: r }), ...extra } as FollowUp['event'],
    });
    const followUps: FollowUp[] = [];
    switch (scenario) {
      case 'unknown-subscriber':
        followUps.push(
          status(delay, 'delivery_failed', {
            failure: failures.unknownSubscriber(source, '1'),
            reason: 'details: unknown subscriber; reason: unknown_subscriber; code: 1',
            details: 'unknown_subscriber',
          }),
        );
        break;
      case 'expired':
        followUps.push(status(delay, 'delivery_failed', { failure: failures.deliveryExpired(source, '3'), reason: 'expired', details: 'expired' }));
        break;
      case 'no-receipt':
        break;
      case 'duplicate-receipts':
        followUps.push(status(delay, 'delivered'), status(delay * 2 + 1, 'delivered'));
        break;
      case 'out-of-order':
        followUps.push(status(delay, 'delivered'), status(delay * 2 + 1, 'sent'));
        break;
      case 'slow':
        followUps.push(status(delay * 20, 'delivered'));
        break;
      case 'auto-reply':
        followUps.push(status(delay, 'delivered'), {
          afterMs: delay * 2 + 1,
          event: {
            kind: 'inbound',
            contact: { identifierKey: first.identifierKey, identifierValue: first.identifierValue },
            body: { type: 'text', text: { text: `Re: ${text}`.slice(0, 4096) } },
          },
        });
        break;
      default:
        followUps.push(status(delay, 'delivered'));
    }
    return { ok: true, parts, chargeableUnits: msg.platform === 'sms' ? segments : undefined, followUps };
  }
}

function receiptDelay(msg: OutboundMessage): number {
  const v = msg.channel.connectorConfig.receiptDelayMs;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : DEFAULT_RECEIPT_DELAY_MS;
}

function bodyText(msg: OutboundMessage): string {
  const body = msg.body as { type?: string; text?: { text?: string } } | null;
  if (body?.type === 'text') return body.text?.text ?? '';
  return '';
}
