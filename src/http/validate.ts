import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { errors, type ErrorDetails } from '../errors.ts';

// Request bodies are checked by compiled JSON Schemas and every failure is reported the way Bird
// reports it: a map from a JSON path with a leading dot (".receiver.contacts[0]") to messages.

export const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);

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

export function describeAjvError(e: ErrorObject): { path: string; message: string } {
  const path = jsonPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path, message: `property "${p.additionalProperty}" is unsupported` };
    case 'required':
      return { path: childPath(path, String(p.missingProperty)), message: 'is required' };
    case 'type':
      return { path, message: `must be of type ${String(p.type).replace(',', ' or ')}` };
    case 'enum':
      return { path, message: `must be one of: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { path, message: `must be ${JSON.stringify(p.allowedValue)}` };
    case 'format':
      return { path, message: `must be a valid ${p.format}` };
    default:
      return { path, message: e.message ?? 'is invalid' };
  }
}

export function ajvDetails(errs: ErrorObject[] | null | undefined): ErrorDetails {
  const details: ErrorDetails = {};
  for (const e of errs ?? []) {
    // Branch-selection noise from oneOf/anyOf/if adds nothing beyond the errors it wraps.
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if' || e.keyword === 'allOf') continue;
    const { path, message } = describeAjvError(e);
    const list = (details[path] ??= []);
    if (!list.includes(message)) list.push(message);
  }
  return details;
}

/** Compiles a schema into a function that returns the typed value or throws a 422 InvalidPayload. */
export function bodyValidator<T>(schema: object): (body: unknown) => T {
  const validate: ValidateFunction = ajv.compile(schema);
  return (body) => {
    if (validate(body)) return body as T;
    throw errors.invalidPayload(ajvDetails(validate.errors));
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
