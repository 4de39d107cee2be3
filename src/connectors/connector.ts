import type { Logger } from 'pino';
import type { Channel } from '../channels/channels.ts';
import type { Platform } from '../channels/platforms.ts';
import type { Failure } from './failures.ts';

// The one interface every provider implements (the sandbox included). A connector type declares the
// config its channels take, what it can carry, and how to open a session for a channel: the thing that
// sends. A session may be a long-lived link (an SMPP bind, an SMTP pool) or nothing at all (an HTTP
// API); either way the runtime (dispatch/) decides when it is opened and closed, how many sends it has
// in flight (its window) and how fast it goes. Connectors never touch the database: what a provider
// reports later (receipts, inbound messages) goes through `ConnectorContext.report`, which writes it
// durably before it resolves, so the connector acknowledges the provider only after that.

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

/** Statuses a provider can report for something already sent. */
export type ReportedStatus = 'sent' | 'delivered' | 'delivery_failed';

/** How many part receipts settle a message sent in several parts (a long SMS). */
export type ReceiptSettlement = 'any' | 'last' | 'all';

/** A later provider report about a message, or anything else a provider pushes. */
export type ProviderEvent =
  /** About a message by its Aviary id (the sandbox, which knows it when it schedules the report). */
  | { kind: 'status'; messageId: string; status: ReportedStatus; failure?: Failure; reason?: string; details?: string; receiver?: number }
  /**
   * A receipt naming the provider's reference for one part (`parts[].platformReference`, as the send
   * returned it). It may arrive before the send's outcome is recorded, twice, out of order, or for only
   * some parts: the runtime applies each once, and `settles` says which part receipts move the message.
   * `status: 'sent'` is an intermediate state (ENROUTE, ACCEPTD): recorded on the part, no change.
   */
  | { kind: 'receipt'; reference: string; status: ReportedStatus; settles?: ReceiptSettlement; failure?: Failure; reason?: string; details?: string; at?: string }
  /**
   * A message from a contact. `part` marks one piece of a message the provider split (a concatenated
   * SMS): the runtime keeps the pieces until all have arrived and stores the message once, joined.
   */
  | {
      kind: 'inbound';
      contact: { identifierKey: string; identifierValue: string };
      body: Record<string, unknown>;
      replyTo?: Record<string, unknown>;
      meta?: Record<string, unknown>;
      /** The provider's id of the message, kept as its platform reference. */
      platformReference?: string;
      /**
       * The provider's reference of a message Aviary sent that this one answers (an email's
       * In-Reply-To): the runtime finds that message and sets `replyTo` to it.
       */
      inReplyToReference?: string;
      part?: { key: string; total: number; seq: number; text: string };
    };

export interface FollowUp {
  afterMs: number;
  event: ProviderEvent;
}

export type SendResult =
  | {
      ok: true;
      /** One entry per part, in order; receipts name these references. */
      parts: { platformReference: string }[];
      chargeableUnits?: number;
      /** Final status right away (e.g. email to several recipients ends at `sent`). */
      final?: boolean;
      /** Reports the connector already knows it will make, scheduled durably (the sandbox). */
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
      /**
       * The provider asked us to slow down (SMPP ESME_RTHROTTLED / ESME_RMSGQFUL, HTTP 429): the
       * message is put back without spending an attempt, and the channel's session pauses.
       */
      throttled?: boolean;
    };

export interface Capabilities {
  bodyTypes: ReadonlySet<string>;
  actions: ReadonlySet<string>;
}

/** What a session gets from the runtime instead of importing it. */
export interface ConnectorContext {
  readonly log: Logger;
  now(): Date;
  /** fetch with a timeout (ms) and, unless the operator allowed them, no private addresses. */
  fetch(url: string, init?: RequestInit & { timeoutMs?: number }): Promise<Response>;
  /**
   * For a mediaUrl of a message body: a signed, expiring link when it names media stored by Aviary
   * (so a provider, or the connector's own fetch, can download it without an access key); any other
   * URL comes back unchanged.
   */
  mediaLink(url: string): Promise<string>;
  /** Stores what a contact sent (an email attachment) as media of the workspace; returns its mediaUrl. */
  storeMedia(data: Buffer, contentType: string, filename?: string): Promise<string>;
  /**
   * Writes provider reports for this channel durably; resolves once they are committed. Acknowledge
   * the provider (deliver_sm_resp, a 200 to a callback) only after it resolves.
   */
  report(events: ProviderEvent[]): Promise<void>;
}

export interface Session {
  /** How many sends may be in flight on this session at once (the SMPP window). */
  readonly window: number;
  /** Sends per second this session may make (the provider's throughput limit); undefined: no limit. */
  readonly ratePerSecond?: number;
  /**
   * Sends one message. Rejecting, or not settling before `signal` aborts (the runtime's send timeout),
   * counts as a retryable failure: whether the provider got it is unknown, so the retry may duplicate
   * it (at-least-once, docs/connectors.md).
   */
  send(message: OutboundMessage, signal: AbortSignal): Promise<SendResult>;
  /** Ends the session: unbind, close connections. Sends still in flight may reject. */
  close(): Promise<void>;
}

/** A provider's HTTP callback as it arrived: raw body and headers, so signatures can be checked. */
export interface CallbackRequest {
  method: string;
  /** The last segment of /connectors/{type}/{workspaceId}/{channelId}/{callback}, e.g. "/inbound". */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
}

export interface CallbackResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Stored durably before the response is sent; only after the provider's signature was verified. */
  events?: ProviderEvent[];
}

/** A JSON Schema for a connector's channel config; secrets are marked `writeOnly: true`. */
export type ConfigSchema = Record<string, unknown> & { type: 'object'; properties: Record<string, Record<string, unknown>> };

export interface Connector {
  readonly type: string;
  /** `connector.config` of its channels, checked on create and update; `writeOnly` fields are never shown. */
  readonly configSchema: ConfigSchema;
  /** What this connector can carry on a platform; undefined: the platform is not served at all. */
  capabilities(platform: Platform): Capabilities | undefined;
  /**
   * Receipts name the provider's reference (kind 'receipt'), so the runtime records every part's
   * reference when the send is recorded. False for connectors that report by message id.
   */
  readonly receiptsByReference: boolean;
  /** Keep a session open for every active channel even with nothing to send: it receives (SMPP). */
  readonly listens: boolean;
  open(channel: Channel, ctx: ConnectorContext): Promise<Session>;
  /** Provider HTTP callbacks for a channel (GET|POST /connectors/{type}/{workspaceId}/{channelId}/{callback}). */
  callback?(channel: Channel, request: CallbackRequest, ctx: ConnectorContext): Promise<CallbackResponse>;
}

/** A session with nothing to hold open: each send is a plain call (HTTP APIs, the sandbox). */
export function statelessSession(send: Session['send'], window = 100): Session {
  return { window, send, close: async () => {} };
}
