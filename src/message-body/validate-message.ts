// Validation of the POST /workspaces/{ws}/channels/{ch}/messages body, with Bird's 422 `details` format:
//   {".receiver.contacts[0]": ["property \"listId\" is unsupported"]}
// One validator compiled at module load on the shared Ajv instance (http/validate.ts, which also turns its errors
// into Bird-shaped details) does the work; this file adds the one send rule the schema cannot express (scheduledFor at most 35 days ahead).

import type { ErrorDetails } from '../errors.ts';
import { addDetail, ajv, ajvDetails } from '../http/validate.ts';
import { createMessageSchema } from './create-message-schema.ts';

export { addDetail };

/** JSON-path keys with a leading dot ("." is the body itself), each with its messages. */
export type ValidationDetails = ErrorDetails;

export interface IdentifierPair { identifierKey: string; identifierValue: string }
/** A receiver contact as a send request names it (resolved to a MessageContact at accept time). */
export interface ReceiverContactRequest {
  id?: string;
  identifierKey?: string;
  identifierValue?: string;
  type?: 'cc' | 'bcc' | 'to';
  identifiers?: IdentifierPair[];
  platformAddress?: string;
  platformAddressSelector?: string | null;
}
export interface MediaAttachment { mediaUrl: string; filename: string; inline?: boolean; contentId?: string }

export type Action =
  | { type: 'link'; link: { text: string; url: string } }
  | { type: 'reply'; reply: { text: string; imageUrl?: string; metadata?: Record<string, unknown> } }
  | { type: 'locationRequest'; locationRequest?: { text?: string } | null }
  | { type: 'buy'; buy: { text: string; amountCents: number; currency: string } }
  | { type: 'postback'; postback: { text: string; payload?: string; imageUrl?: string; metadata?: Record<string, unknown> } };
type Actions = Action[] | null;

interface MediaMetadata { subject?: string; fallbackText?: string; storyType?: string; telegram?: { parseMode?: string } }
export interface CarouselItem { title?: string; mediaUrl?: string | null; altText?: string; actions?: Actions }

export interface TextBody {
  type: 'text';
  text: {
    text: string;
    attachments?: MediaAttachment[] | null;
    actions?: Actions;
    metadata?: { subject?: string; headers?: Record<string, string>; whatsapp?: { previewUrl?: boolean }; [k: string]: unknown };
  };
}
export interface HtmlBody {
  type: 'html';
  html: {
    text?: string;
    html?: string;
    attachments?: Array<Partial<MediaAttachment> & { content?: string; contentType?: string }> | null;
    actions?: Actions;
    metadata?: { subject?: string; headers?: Record<string, string>; [k: string]: unknown };
  };
}
export interface ImageBody {
  type: 'image';
  image: { text?: string; images: Array<{ mediaUrl: string; altText?: string }>; metadata?: MediaMetadata; actions?: Actions };
}
export interface FileBody {
  type: 'file';
  file: {
    text?: string;
    files: Array<{ mediaUrl: string; contentType: string; filename?: string; altText?: string }>;
    metadata?: MediaMetadata;
    actions?: Actions;
  };
}
export interface GifBody { type: 'gif'; gif: { text?: string; mediaUrl: string; altText?: string; actions?: Actions } }
export interface LocationBody {
  type: 'location';
  location: { coordinates: { latitude?: number; longitude?: number }; location?: { address?: string; label?: string } };
}
export interface CarouselBody { type: 'carousel'; carousel: { text?: string; items: CarouselItem[] | null } }
export interface ListBody {
  type: 'list';
  list: {
    title?: string;
    text: string;
    altText?: string;
    items?: CarouselItem[] | null;
    actions?: Actions;
    metadata?: { button?: { label?: string }; replyMessage?: { title?: string; text?: string } };
  };
}
export interface SectionBody { type: 'section'; section: { items?: MessageBody[]; configurations?: Record<string, string> } }
export interface AuthenticationBody {
  type: 'authentication';
  authentication: { otp?: { disclaimer: boolean; expirationTime?: number | null; actions?: Actions } };
}
export type MessageBody =
  | TextBody | HtmlBody | ImageBody | FileBody | GifBody | LocationBody | CarouselBody | ListBody | SectionBody
  | AuthenticationBody;

export type TemplateParameter =
  | { type: 'string'; key: string; value?: string }
  | { type: 'number'; key: string; value?: number }
  | { type: 'boolean'; key: string; value?: boolean }
  | { type: Exclude<TemplateParameterType, 'string' | 'number' | 'boolean'>; key: string; value?: Record<string, unknown> };
type TemplateParameterType =
  | 'string' | 'number' | 'boolean' | 'object' | 'sectionList' | 'timeslotList' | 'productSections' | 'productList'
  | 'shippingMethodList' | 'lineItemList' | 'whatsappProductSections' | 'whatsappProductItems';

export interface MessageTemplate {
  name?: string;
  projectId?: string;
  version?: string;
  locale?: string;
  attachments?: MediaAttachment[] | null;
  shortLinks?: { enabled?: boolean; domain?: string } | null;
  variables?: Record<string, string> | null;
  utmParameters?: Array<{ key: string; value: string } | { key: string; reference: 'platform_name' | 'channel_name' }> | null;
  parameters?: TemplateParameter[] | null;
  settings?: { disallowMmLite?: boolean | null; [k: string]: unknown } | null;
}

export interface MessageMeta {
  extraInformation?: Record<string, unknown>;
  referral?: Record<string, unknown>;
  order?: { products?: Array<Record<string, unknown>> };
  referredProduct?: { externalCatalogId?: string; externalProductId?: string } | null;
  email?: { subject?: string; headers?: Record<string, string>; from?: { username?: string; displayName?: string } };
  pushNotifications?: { gatewayTypeOverride?: 'apns' | 'firebase' | 'web' };
  navigatorId?: string;
  navigatorMessageId?: string;
  flow?: { id?: string | null; name?: string | null; stepId?: string | null; runId?: string | null };
  journey?: { id?: string | null; name?: string | null; stepId?: string | null; runId?: string | null };
  campaign?: { id?: string | null; name?: string | null };
}

export interface CreateMessageRequest {
  receiver: { contacts?: ReceiverContactRequest[] };
  sender?: { connector: { identifierValue: string; annotations?: { name?: string }; [k: string]: unknown } };
  body?: MessageBody;
  /** `null` passes Bird's schema (Template is nullable); platform rules then insist on a body. */
  template?: MessageTemplate | null;
  meta?: MessageMeta;
  reference?: string;
  replyTo?: { id: string; type: 'message' | 'click' | 'referrals'; order?: number };
  notification?: { url?: string; [k: string]: unknown };
  capFrequency?: boolean;
  enableLinkTracking?: boolean;
  ignoreQuietHours?: boolean;
  ignoreGlobalHoldout?: boolean;
  /** Lower-cased by validateCreateMessage, as Bird stores them. */
  tags?: string[];
  shortLinks?: { domain: string } | null;
  /** RFC 3339, at most 35 days ahead. */
  scheduledFor?: string;
  /** Seconds. */
  validity?: number;
}

export type CreateMessageValidation = { ok: true; value: CreateMessageRequest } | { ok: false; details: ValidationDetails };

const validateSchema = ajv.compile<CreateMessageRequest>(createMessageSchema);

export const MAX_SCHEDULE_AHEAD_MS = 35 * 24 * 60 * 60 * 1000;

export function validateCreateMessage(body: unknown, now?: Date): CreateMessageValidation {
  try {
    const details = validateSchema(body) ? null : ajvDetails(validateSchema.errors, body);
    const scheduled = (body as { scheduledFor?: unknown } | null)?.scheduledFor;
    if (typeof scheduled === 'string') {
      const at = parseRfc3339(scheduled);
      if (at !== null && at - (now?.getTime() ?? Date.now()) > MAX_SCHEDULE_AHEAD_MS) {
        return fail(addDetail(details ?? {}, '.scheduledFor', 'must not be more than 35 days in the future'));
      }
    }
    if (details) return fail(details);
    return { ok: true, value: lowerCaseTags(body as CreateMessageRequest) };
  } catch {
    // Ajv does not throw on data, but a hostile object (getters, proxies) could; never let that become a 500.
    return fail({ '.': ['could not be validated'] });
  }
}

function fail(details: ValidationDetails): CreateMessageValidation {
  return { ok: false, details };
}

function lowerCaseTags(req: CreateMessageRequest): CreateMessageRequest {
  const tags = req.tags;
  if (!tags || tags.every((t) => t === t.toLowerCase())) return req;
  return { ...req, tags: tags.map((t) => t.toLowerCase()) };
}

/** Epoch ms of a date-time that already passed the `date-time` format, or null. */
export function parseRfc3339(value: string): number | null {
  const m = /^(\d{4})-(\d\d)-(\d\d)[Tt\s](\d\d):(\d\d):(\d\d)(\.\d+)?(?:[Zz]|([+-])(\d\d)(?::?(\d\d))?)$/.exec(value);
  if (!m) return null;
  const ms = m[7] ? Math.floor(Number(m[7]) * 1000) : 0;
  const utc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms);
  const offsetMinutes = m[8] ? (m[8] === '-' ? -1 : 1) * (+m[9] * 60 + +(m[10] ?? 0)) : 0;
  return utc - offsetMinutes * 60_000;
}
