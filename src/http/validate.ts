import { Ajv, type ErrorObject, type Format, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { errors, type ErrorDetails } from '../errors.ts';

// Request bodies are checked by compiled JSON Schemas and every failure is reported the way Bird
// reports it: a map from a JSON path with a leading dot (".receiver.contacts[0]") to messages.
// There is one Ajv instance and one translator for every body (the send, a batch, a template version,
// a contact, a sandbox simulation...), so the same mistake reads the same on every endpoint.

// RFC 5646 language-tag syntax (langtag or private use; grandfathered tags are not accepted). Bird's own example
// uses "text", which is syntactically a (reserved) 4-letter language subtag, so syntax is all we check.
const BCP47 =
  /^(?:(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})(?:-[a-z]{4})?(?:-(?:[a-z]{2}|\d{3}))?(?:-(?:[a-z\d]{5,8}|\d[a-z\d]{3}))*(?:-[a-wyz\d](?:-[a-z\d]{2,8})+)*(?:-x(?:-[a-z\d]{1,8})+)?|x(?:-[a-z\d]{1,8})+)$/i;

// The formats Bird's schemas use, as Aviary interprets them. Shared with the Bird-schema oracle in tests so both
// sides agree on what a format means; the choices themselves are the point of this table:
//   uri: RFC 3986 URI *reference*. Bird's own full request example sends a link url of "text", so Bird cannot be
//        requiring an absolute URI; a relative reference is the strictest reading that accepts its example.
//   date-time: RFC 3339 (ajv-formats, time zone required).
export const birdFormats: Record<string, Format> = {
  uri: fullFormats['uri-reference'],
  'date-time': fullFormats['date-time'],
  uuid: fullFormats.uuid,
  'locale-bcp47': BCP47,
  float: fullFormats.float,
};

// The union of what the bodies need: allErrors (Bird lists every problem), verbose (errors carry their
// parentSchema, which holds the `x-messages` overrides), strict off (Bird's `nullable` and `discriminator`
// ride along in the send schema). ajv-formats first, then Bird's readings of the formats they share.
export const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, coerceTypes: false, useDefaults: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);
for (const [name, format] of Object.entries(birdFormats)) ajv.addFormat(name, format);
/** `x-messages: {<keyword>: <message>}` on a schema: the human message for a failure Ajv can only describe generically. */
ajv.addKeyword('x-messages');

export function jsonPath(instancePath: string): string {
  if (instancePath === '') return '.';
  let out = '';
  for (const seg of instancePath.slice(1).split('/')) {
    const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : `.${key}`;
  }
  return out;
}

export function childPath(parent: string, key: string): string {
  return parent === '.' ? `.${key}` : `${parent}.${key}`;
}

/** Adds one message under a path, once. */
export function addDetail(details: ErrorDetails, key: string, message: string): ErrorDetails {
  const list = details[key];
  if (!list) details[key] = [message];
  else if (!list.includes(message)) list.push(message);
  return details;
}

/** Ajv's errors as Bird's details. `data` (the validated value) tells array indexes from numeric keys. */
export function ajvDetails(errs: ErrorObject[] | null | undefined, data?: unknown): ErrorDetails {
  const all = errs ?? [];
  // When an anyOf/oneOf fails, Ajv keeps every branch's errors; the composite error itself says it better.
  const composites = all.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const details: ErrorDetails = {};
  for (const e of all) {
    // `if` and `allOf` errors only say "must match then"/"must match all"; the branch's own errors follow.
    if (e.keyword === 'if' || e.keyword === 'allOf') continue;
    if (composites.length && composites.some((c) => c !== e && isWithin(e, c))) continue;
    addDetail(details, birdPath(e.instancePath, data), describeAjvError(e));
  }
  return details;
}

function isWithin(e: ErrorObject, c: ErrorObject): boolean {
  return (
    e.schemaPath.startsWith(c.schemaPath + '/') &&
    (e.instancePath === c.instancePath || e.instancePath.startsWith(c.instancePath + '/'))
  );
}

const SIMPLE_KEY = /^[A-Za-z0-9_$-]+$/;

/** "/receiver/contacts/0" -> ".receiver.contacts[0]"; without the data, an all-digit segment is taken as an index. */
function birdPath(pointer: string, data: unknown): string {
  if (pointer === '') return '.';
  let out = '';
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.includes('~') ? raw.replace(/~1/g, '/').replace(/~0/g, '~') : raw;
    if (Array.isArray(cur) || (cur === undefined && /^\d+$/.test(seg))) {
      out += `[${seg}]`;
      cur = Array.isArray(cur) ? cur[Number(seg)] : undefined;
    } else {
      out += SIMPLE_KEY.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`;
      cur = cur !== null && typeof cur === 'object' && Object.hasOwn(cur, seg) ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

const FORMAT_MESSAGES: Record<string, string> = {
  'date-time': 'must be an RFC 3339 date-time with time zone, e.g. 2025-05-09T03:50:12Z',
  uri: 'must be a valid URI',
  uuid: 'must be a UUID',
  'locale-bcp47': 'must be a BCP 47 language tag, e.g. en or pt-BR',
};

/** One Ajv error in Bird's words (the send path's wording, which Bird clients see most). */
export function describeAjvError(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  const custom = (e.parentSchema?.['x-messages'] as Record<string, string> | undefined)?.[e.keyword];
  if (custom) return custom;
  switch (e.keyword) {
    case 'additionalProperties':
      return `property "${String(p.additionalProperty)}" is unsupported`;
    case 'required':
      return `property "${String(p.missingProperty)}" is required`;
    case 'type':
      return `must be ${String(p.type).split(',').map((t) => TYPE_NAMES[t] ?? t).join(' or ')}`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'format':
      return FORMAT_MESSAGES[String(p.format)] ?? `must be a valid ${String(p.format)}`;
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters long`;
    case 'maxLength':
      return `must be at most ${String(p.limit)} characters long`;
    case 'minimum':
    case 'maximum':
      return `must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${String(p.limit)}`;
    case 'minItems':
      return `must contain at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`;
    case 'maxItems':
      return `must contain at most ${String(p.limit)} items`;
    case 'minProperties':
      return `must have at least ${String(p.limit)} propert${p.limit === 1 ? 'y' : 'ies'}`;
    case 'maxProperties':
      return `must have at most ${String(p.limit)} properties`;
    case 'pattern':
      return `must match the pattern ${String(p.pattern)}`;
    case 'anyOf':
    case 'oneOf':
      return 'does not match any of the allowed forms';
    default:
      return e.message ?? 'is invalid';
  }
}

/** Compiles a schema into a function that returns the typed value or throws a 422 InvalidPayload. */
export function bodyValidator<T>(schema: object): (body: unknown) => T {
  const validate: ValidateFunction = ajv.compile(schema);
  return (body) => {
    if (validate(body)) return body as T;
    throw errors.invalidPayload(ajvDetails(validate.errors, body));
  };
}

// Strings the store cannot hold. PostgreSQL rejects U+0000 in text and jsonb, and a lone UTF-16
// surrogate either fails in jsonb ("\ud800" is not valid there) or is silently turned into U+FFFD on
// its way to a text column (UTF-8 cannot encode it). So there is one rule for every string that enters,
// keys of free-form objects included: server.ts applies it to every parsed body, query and path
// before any route sees them, which is why no route or schema repeats it.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');
const SUSPECT = /[\u0000\ud800-\udfff]/;
/** More than this many bad strings in one request add nothing but bytes to the answer. */
const MAX_STRING_PROBLEMS = 20;

/** Why `s` cannot be stored, or undefined when it can. */
export function unstorableReason(s: string): string | undefined {
  // The plain character class is much cheaper than the lookarounds, and almost every string passes it.
  if (!SUSPECT.test(s)) return undefined;
  const m = UNSTORABLE.exec(s);
  if (!m) return undefined;
  const unit = m[0].charCodeAt(0);
  return unit === 0 ? 'must not contain U+0000 (NUL)' : `must not contain an unpaired surrogate (U+${unit.toString(16).toUpperCase()})`;
}

/** A key for an error path: the characters the rule refuses are written as \uXXXX, never echoed raw. */
export function printableKey(key: string): string {
  return key.replace(UNSTORABLE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A node of the walk: its path is only spelled out when something under it is refused. */
interface Visit {
  value: unknown;
  parent: Visit | undefined;
  step: string | number;
}

function pathOf(v: Visit, root: string): string {
  const steps: (string | number)[] = [];
  for (let n: Visit | undefined = v; n?.parent; n = n.parent) steps.push(n.step);
  let path = root;
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i];
    path = typeof step === 'number' ? (path === '.' ? `[${step}]` : `${path}[${step}]`) : childPath(path, printableKey(step));
  }
  return path;
}

/**
 * Every string (and object key) in a parsed JSON value that cannot be stored, by JSON path. Walks with
 * an explicit stack: a body may nest deeper than the call stack goes.
 */
export function unstorableStrings(value: unknown, root = '.'): ErrorDetails {
  const details: ErrorDetails = {};
  let found = 0;
  const report = (at: Visit, message: string) => {
    (details[pathOf(at, root)] ??= []).push(message);
    found++;
  };
  const stack: Visit[] = [{ value, parent: undefined, step: '' }];
  while (stack.length && found < MAX_STRING_PROBLEMS) {
    const node = stack.pop()!;
    const v = node.value;
    if (typeof v === 'string') {
      const reason = unstorableReason(v);
      if (reason) report(node, reason);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: node, step: i });
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const child: Visit = { value: (v as Record<string, unknown>)[keys[i]], parent: node, step: keys[i] };
        const reason = unstorableReason(keys[i]);
        if (reason) report(child, `property name ${reason}`);
        stack.push(child);
      }
    }
  }
  return details;
}

/** Query and path parameters are flat: details keyed by the parameter's name, as for other 400s. */
function unstorableParameters(params: unknown): ErrorDetails {
  const details: ErrorDetails = {};
  if (params === null || typeof params !== 'object') return details;
  for (const [name, value] of Object.entries(params)) {
    const reason = unstorableReason(name) ?? [value].flat().map((v) => (typeof v === 'string' ? unstorableReason(v) : undefined)).find(Boolean);
    if (reason) details[printableKey(name)] = [reason];
    if (Object.keys(details).length >= MAX_STRING_PROBLEMS) break;
  }
  return details;
}

/**
 * The string rule for one request: 400 InvalidParameters for a path or query parameter, 422
 * InvalidPayload for a JSON body. Multipart uploads are not parsed by then (their route streams them),
 * and the only form fields they act on are signed by Aviary itself.
 */
export function checkRequestStrings(request: { params: unknown; query: unknown; body: unknown }): void {
  const path = unstorableParameters(request.params);
  if (Object.keys(path).length) throw errors.invalidQuery(path, 'One or more path parameters are invalid');
  const query = unstorableParameters(request.query);
  if (Object.keys(query).length) throw errors.invalidQuery(query);
  const body = unstorableStrings(request.body);
  if (Object.keys(body).length) throw errors.invalidPayload(body);
}
