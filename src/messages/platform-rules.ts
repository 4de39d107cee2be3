// Send rules that depend on the channel's platform (or that Bird's schema cannot express), checked after
// validateCreateMessage. Same 422 details format. Each rule says why it exists: they are the mistakes a user of
// that platform would expect to hear about at send time rather than as a `rejected` message later.

import { PLATFORMS, type Platform } from '../channels/platforms.ts';
import { addDetail, type CreateMessageRequest, type MessageBody, type ValidationDetails } from '../message-body/validate-message.ts';

/** Most receivers of one SMS (each is sent on its own: dispatch/receivers.ts); more is a 422. A request's fan-out stays bounded, well under Bird's 100 messages per batch. */
export const MAX_SMS_RECEIVERS = 50;

// E.164: "+", country code not starting with 0, at most 15 digits in all. 8 digits is the shortest in real use.
const E164 = /^\+[1-9]\d{7,14}$/;
// A deliberately plain address check (the HTML spec's, plus a dot in the domain): catches typos without
// second-guessing the mail system. Length per RFC 5321.
const EMAIL =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/;
const MAX_EMAIL_LENGTH = 254;

const PHONE_MESSAGE = 'must be a phone number in E.164 format, e.g. +31612345678';
const EMAIL_MESSAGE = 'must be a valid email address';

// Meta's limits for WhatsApp: a text message body holds 4096 characters; a carousel has 2 to 10 cards.
const WHATSAPP_TEXT_MAX = 4096;
const WHATSAPP_CAROUSEL_MIN = 2;
const WHATSAPP_CAROUSEL_MAX = 10;
// Bird's SMS docs: an MMS (image body on an MMS-capable number) carries at most 10 media URLs.
const SMS_IMAGES_MAX = 10;

export function checkPlatformRules(platform: Platform, req: CreateMessageRequest): ValidationDetails | null {
  const details: ValidationDetails = {};
  checkContent(req, details);
  checkReceivers(platform, req, details);
  if (req.body) checkBody(platform, req.body, details);
  if (platform === 'email') checkEmailSubject(req, details);
  return Object.keys(details).length ? details : null;
}

// Bird's schema lets `template: null` satisfy "body or template"; there is nothing to send then.
function checkContent(req: CreateMessageRequest, details: ValidationDetails): void {
  if (!req.body && !req.template) addDetail(details, '.template', 'must not be null when there is no body');
}

function checkReceivers(platform: Platform, req: CreateMessageRequest, details: ValidationDetails): void {
  const contacts = req.receiver.contacts;
  // Bird's schema has no `required`/`minItems` here (its `minLength: 1` on the array is a no-op), but a message
  // needs somebody to go to.
  if (!contacts) return void addDetail(details, '.receiver', 'property "contacts" is required');
  if (contacts.length === 0) return void addDetail(details, '.receiver.contacts', 'must contain at least one contact');
  // Email has several recipients per message (to/cc/bcc). An SMS may have several receivers too, each
  // sent on its own (dispatch/receivers.ts). Everywhere else a message is one conversation.
  if (platform === 'sms' && contacts.length > MAX_SMS_RECEIVERS) {
    addDetail(details, '.receiver.contacts', `must contain at most ${MAX_SMS_RECEIVERS} contacts on SMS channels`);
  } else if (platform !== 'email' && platform !== 'sms' && contacts.length > 1) {
    addDetail(details, '.receiver.contacts', `must contain exactly one contact on ${PLATFORMS[platform].label} channels`);
  }
  const defaultKey = PLATFORMS[platform].identifierKey;
  contacts.forEach((c, i) => {
    const at = `.receiver.contacts[${i}]`;
    // The ways Aviary can find the recipient (accept-message.ts resolveRecipients); none given is a dead letter.
    const addressable = c.identifierValue || c.identifiers?.length || c.id || c.platformAddress;
    if (!addressable) {
      addDetail(details, at, 'must have an "identifierValue", "identifiers", "id" or "platformAddress"');
    }
    if (c.identifierValue !== undefined) {
      // Without an identifierKey the value is read as the platform's own kind of address (a phone number on
      // SMS/WhatsApp/RCS/Viber, an email address on email).
      checkIdentifier((c.identifierKey ?? defaultKey).toLowerCase(), c.identifierValue, `${at}.identifierValue`, details);
    }
    c.identifiers?.forEach((id, j) => {
      checkIdentifier(id.identifierKey.toLowerCase(), id.identifierValue, `${at}.identifiers[${j}].identifierValue`, details);
    });
  });
}

function checkIdentifier(key: string, value: string, at: string, details: ValidationDetails): void {
  const problem = identifierValueProblem(key, value);
  if (problem) addDetail(details, at, problem);
}

/** What is wrong with an identifier value of this (lower-case) key, if anything; shared with the Contacts API. */
export function identifierValueProblem(key: string, value: string): string | undefined {
  if (value.trim() === '') return 'must not be empty';
  if (key === 'phonenumber' && !E164.test(value)) return PHONE_MESSAGE;
  if (key === 'emailaddress' && (value.length > MAX_EMAIL_LENGTH || !EMAIL.test(value))) return EMAIL_MESSAGE;
  return undefined;
}

function checkBody(platform: Platform, body: MessageBody, details: ValidationDetails): void {
  // HTML is an email concept; other platforms would have to strip it to something nobody wrote.
  if (body.type === 'html' && platform !== 'email') {
    addDetail(details, '.body.type', '"html" bodies are only supported on email channels');
  }
  switch (body.type) {
    // Bird's schema marks these arrays `minLength: 1` (meant as minItems): a media message needs its media.
    case 'image':
      if (body.image.images.length === 0) addDetail(details, '.body.image.images', 'must contain at least one image');
      if (platform === 'sms' && body.image.images.length > SMS_IMAGES_MAX) {
        addDetail(details, '.body.image.images', `must contain at most ${SMS_IMAGES_MAX} images on SMS (MMS) channels`);
      }
      break;
    case 'file':
      if (body.file.files.length === 0) addDetail(details, '.body.file.files', 'must contain at least one file');
      break;
    // A pin needs both coordinates; Bird's schema leaves them optional but no platform can send half a point.
    case 'location':
      for (const axis of ['latitude', 'longitude'] as const) {
        if (body.location.coordinates[axis] === undefined) {
          addDetail(details, '.body.location.coordinates', `property "${axis}" is required`);
        }
      }
      break;
    case 'text':
      if (platform === 'whatsapp' && characterCount(body.text.text) > WHATSAPP_TEXT_MAX) {
        addDetail(details, '.body.text.text', `must be at most ${WHATSAPP_TEXT_MAX} characters on WhatsApp`);
      }
      break;
    case 'carousel': {
      const cards = body.carousel.items?.length ?? 0;
      if (platform === 'whatsapp' && (cards < WHATSAPP_CAROUSEL_MIN || cards > WHATSAPP_CAROUSEL_MAX)) {
        addDetail(
          details,
          '.body.carousel.items',
          `must contain between ${WHATSAPP_CAROUSEL_MIN} and ${WHATSAPP_CAROUSEL_MAX} cards on WhatsApp`,
        );
      }
      break;
    }
  }
}

// An email without a subject lands as "(no subject)" and is often filtered as spam; Bird's email docs always
// set one. An html body (a designed email) or a template (which carries its own subject) is exempt.
function checkEmailSubject(req: CreateMessageRequest, details: ValidationDetails): void {
  if (req.template || !req.body || req.body.type === 'html') return;
  if (nonBlank(req.meta?.email?.subject)) return;
  const body = req.body;
  const metadata =
    body.type === 'text' ? body.text.metadata : body.type === 'image' ? body.image.metadata : body.type === 'file' ? body.file.metadata : undefined;
  if (nonBlank(metadata?.subject)) return;
  if (body.type === 'text' || body.type === 'image' || body.type === 'file') {
    addDetail(details, `.body.${body.type}.metadata`, 'property "subject" is required on email channels (or set meta.email.subject)');
  } else {
    addDetail(details, '.meta.email', 'property "subject" is required on email channels');
  }
}

function nonBlank(s: string | undefined): boolean {
  return s !== undefined && s.trim() !== '';
}

// Meta counts characters, not UTF-16 units; only long strings need the slower count.
function characterCount(s: string): number {
  return s.length <= WHATSAPP_TEXT_MAX ? s.length : [...s].length;
}
