import type { Channel } from '../channels/channels.ts';
import type { Platform } from '../channels/platforms.ts';
import type { Failure } from './failures.ts';

// The one interface every provider implements. A connector turns an outbound message into a provider
// call and says what happened; it never touches the database. What the provider will report later
// (receipts, replies) comes back either as `followUps` (the sandbox, which schedules them durably)
// or, for real providers, through their HTTP callbacks.

export interface OutboundRecipient {
  contactId: string;
  identifierKey: string;
  identifierValue: string;
  platformAddress: string;
  type?: 'to' | 'cc' | 'bcc';
}

export interface OutboundMessage {
  id: string;
  workspaceId: string;
  channel: Channel;
  platform: Platform;
  sender: string;
  recipients: OutboundRecipient[];
  body: { type: string; [k: string]: unknown } | null;
  template: Record<string, unknown> | null;
  meta: Record<string, unknown> | null;
  reference: string | null;
  attempt: number;
  /**
   * Set when the dispatcher submits the receivers of one message one at a time (an SMS to several
   * numbers): which receiver of the message `recipients[0]` is. Status events it reports must carry it.
   */
  receiverIndex?: number;
}

/** A later provider report about a message, or anything else a provider pushes. */
export type ProviderEvent =
  | { kind: 'status'; messageId: string; status: 'sent' | 'delivered' | 'delivery_failed'; failure?: Failure; reason?: string; details?: string; receiver?: number }
  | { kind: 'inbound'; contact: { identifierKey: string; identifierValue: string }; body: Record<string, unknown>; replyTo?: Record<string, unknown>; meta?: Record<string, unknown> };

export interface FollowUp {
  afterMs: number;
  event: ProviderEvent;
}

export type SendResult =
  | {
      ok: true;
      parts: { platformReference: string }[];
      chargeableUnits?: number;
      /** Final status right away (e.g. email to several recipients ends at `sent`). */
      final?: boolean;
      followUps?: FollowUp[];
    }
  | {
      ok: false;
      /** Transient failures are retried with backoff, up to the attempt limit. */
      retryable: boolean;
      failure: Failure;
      reason?: string;
      details?: string;
      retryAfterMs?: number;
    };

export interface Capabilities {
  bodyTypes: ReadonlySet<string>;
  actions: ReadonlySet<string>;
}

export interface Connector {
  readonly type: string;
  /** What this connector can carry on a platform; undefined: the platform is not served at all. */
  capabilities(platform: Platform): Capabilities | undefined;
  send(message: OutboundMessage): Promise<SendResult>;
}
