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

/**
 * Where a JSON value holds the NUL character, which PostgreSQL cannot store in text or jsonb: found
 * here, it is a 422 at its path rather than a database error (a 500) later.
 */
export function nulDetails(value: unknown, path = '.', details: ErrorDetails = {}): ErrorDetails {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) (details[path] ??= []).push('must not contain the NUL character');
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => nulDetails(v, `${path === '.' ? '' : path}[${i}]`, details));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes('\u0000')) (details[path] ??= []).push('property names must not contain the NUL character');
      else nulDetails(v, childPath(path, k), details);
    }
  }
  return details;
}

/** Compiles a schema into a function that returns the typed value or throws a 422 InvalidPayload. */
export function bodyValidator<T>(schema: object): (body: unknown) => T {
  const validate: ValidateFunction = ajv.compile(schema);
  return (body) => {
    if (!validate(body)) throw errors.invalidPayload(ajvDetails(validate.errors));
    const nul = nulDetails(body);
    if (Object.keys(nul).length) throw errors.invalidPayload(nul);
    return body as T;
  };
}
