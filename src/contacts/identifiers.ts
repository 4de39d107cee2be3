import { PLATFORMS, type Platform } from '../channels/platforms.ts';
import type { ErrorDetails } from '../errors.ts';
import { identifierValueProblem } from '../messages/platform-rules.ts';

// What an identifier is, in one place for sends and the Contacts API: the same normalisation on both
// sides is what makes "the contact a send created" and "the contact the API created" the same row.

export interface Identifier {
  key: string;
  value: string;
}

/** Bird: key 1..64 characters. Letters first, then what real keys use (`facebookid-<page>`, `whatsapp_<portfolio>`). */
export const IDENTIFIER_KEY_PATTERN = '^[A-Za-z][A-Za-z0-9_.-]{0,63}$';
export const IDENTIFIER_VALUE_MAX = 500;

/** Keys are case-insensitive; email addresses too; every value is trimmed. */
export function normalizeIdentifier(id: Identifier): Identifier {
  const key = id.key.trim().toLowerCase();
  const value = key === 'emailaddress' ? id.value.trim().toLowerCase() : id.value.trim();
  return { key, value };
}

/** JSON Schema of `{key, value, properties?}` in request bodies (Bird's Identifier). */
export const identifierSchema = (withProperties: boolean) => ({
  type: 'object',
  additionalProperties: false,
  required: ['key', 'value'],
  properties: {
    key: { type: 'string', pattern: IDENTIFIER_KEY_PATTERN },
    value: { type: 'string', minLength: 1, maxLength: IDENTIFIER_VALUE_MAX },
    ...(withProperties
      ? { properties: { type: ['object', 'null'], propertyNames: { pattern: '^[A-Za-z0-9]{1,64}$' }, additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } } }
      : {}),
  },
});

/**
 * Normalises identifiers that passed the schema and checks the values the schema cannot (E.164 phone
 * numbers, email addresses), recording problems under `<at>[i].value`.
 */
export function checkIdentifiers<T extends Identifier>(ids: T[] | undefined, at: string, details: ErrorDetails): T[] {
  const out: T[] = [];
  (ids ?? []).forEach((raw, i) => {
    const id = { ...raw, ...normalizeIdentifier(raw) };
    const problem = identifierValueProblem(id.key, id.value);
    if (problem) (details[`${at}[${i}].value`] ??= []).push(problem);
    out.push(id);
  });
  return out;
}

/** A path segment pair `/identifiers/{key}/{value}`: Fastify has percent-decoded it, so raw and encoded forms agree. */
export function pathIdentifier(key: string, value: string, details: ErrorDetails): Identifier {
  if (!new RegExp(IDENTIFIER_KEY_PATTERN).test(key)) details.identifierKey = ['is not a valid identifier key'];
  const id = normalizeIdentifier({ key, value });
  // NUL and lone surrogates never get here: http/validate.ts checks every path parameter first.
  const problem = id.value.length > IDENTIFIER_VALUE_MAX ? `must be at most ${IDENTIFIER_VALUE_MAX} characters` : identifierValueProblem(id.key, id.value);
  if (problem) details.identifierValue = [problem];
  return id;
}

/**
 * Which of a contact's identifiers a channel of this platform can reach, best first: the platform's
 * own key (`phonenumber` for SMS/WhatsApp/RCS/Viber, `emailaddress` for email, `telegramid`, ...),
 * then the page- or portfolio-scoped keys Bird uses for the same platform (`facebookid-<pageId>`,
 * `instagramid-<accountId>`, `whatsapp_<portfolioId>`). Undefined if none fits.
 */
export function identifierForPlatform(platform: Platform, ids: Identifier[]): Identifier | undefined {
  const own = PLATFORMS[platform].identifierKey;
  const exact = ids.find((i) => i.key === own);
  if (exact) return exact;
  const scoped = platform === 'whatsapp' ? 'whatsapp_' : platform === 'facebook' || platform === 'instagram' ? `${own}-` : undefined;
  return scoped ? ids.find((i) => i.key.startsWith(scoped)) : undefined;
}
