import type { ValidateFunction } from 'ajv';
import { errors, type ErrorDetails } from '../errors.ts';
import { ajv, ajvDetails } from '../http/validate.ts';
import type { Platform } from './platforms.ts';

// A channel's `connector.config` is checked against the JSON Schema its connector type declares, and
// shown through the same schema: fields marked `writeOnly: true` (passwords, tokens) are never
// returned, only that they are set. Channels know connector types only through this narrow view (the
// registry, a Map, fits it), so channels/ stays below connectors/.

export interface ConnectorTypes {
  get(type: string): { configSchema: object; capabilities(platform: Platform): unknown } | undefined;
  keys(): IterableIterator<string>;
}

const compiled = new WeakMap<object, ValidateFunction>();

function validatorFor(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) compiled.set(schema, (v = ajv.compile(schema)));
  return v;
}

/** Throws a 422 naming `.connector.type` or `.connector.config.<field>` when the pair is not usable. */
export function checkConnectorConfig(types: ConnectorTypes, platform: Platform, type: string, config: Record<string, unknown>): void {
  const connector = types.get(type);
  if (!connector) {
    throw errors.invalidPayload({ '.connector.type': [`unknown connector type "${type}"; known: ${[...types.keys()].sort().join(', ')}`] });
  }
  // A channel whose connector cannot carry its platform would fail every message at dispatch.
  if (connector.capabilities(platform) === undefined) {
    throw errors.invalidPayload({ '.connector.type': [`connector "${type}" does not carry platform "${platform}"`] });
  }
  const validate = validatorFor(connector.configSchema);
  if (validate(config)) return;
  const details: ErrorDetails = {};
  for (const [path, messages] of Object.entries(ajvDetails(validate.errors, config))) {
    details[path === '.' ? '.connector.config' : `.connector.config${path}`] = messages;
  }
  throw errors.invalidPayload(details);
}

export const REDACTED = '********';

/**
 * The config as the API shows it: writeOnly fields replaced by a marker. A config whose type is no
 * longer known (a connector removed from this build) is shown with every value hidden, since there
 * is no schema to say which are safe.
 */
export function redactConfig(schema: object | undefined, value: unknown): unknown {
  if (!schema) return hideAll(value);
  const s = schema as { writeOnly?: boolean; properties?: Record<string, object>; items?: object; additionalProperties?: object | boolean };
  if (s.writeOnly) return REDACTED;
  if (Array.isArray(value)) return s.items ? value.map((v) => redactConfig(s.items, v)) : value;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const sub = s.properties?.[k] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : {});
      out[k] = redactConfig(sub, v);
    }
    return out;
  }
  return value;
}

function hideAll(value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hideAll(v)]));
  }
  return REDACTED;
}
