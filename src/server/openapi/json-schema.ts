import type { JsonSchema } from './types.ts';

// Aviary's validators are written for Ajv's default dialect (draft-07 with `definitions`, and OpenAPI
// 3.0's `nullable`). OpenAPI 3.1 schemas are JSON Schema 2020-12, and a `$ref` inside them resolves
// against the whole document. This turns one such validator schema into component schemas with the same
// meaning:
//   - `definitions` are hoisted to components, and `#/definitions/X` refs point at `#/components/schemas/X`;
//   - `$id` is dropped (it would make those refs resolve against the validator's own URI);
//   - `nullable: true` becomes `null` in `type` (and in `enum`, where there is one);
//   - everything else, including `if`/`then`/`else`, `const` and `x-` annotations, is the same in both.
// The walk follows the schema keywords only, so a property that happens to be called "nullable" or
// "definitions" is left alone.

const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const SCHEMA_KEYWORDS = ['additionalProperties', 'items', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems', 'additionalItems'];
const SCHEMA_ARRAY_KEYWORDS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];

export function componentRef(name: string): { $ref: string } {
  return { $ref: `#/components/schemas/${name}` };
}

function convert(node: unknown, rewriteRef: (ref: string) => string): unknown {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return node;
  const schema = node as JsonSchema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$id' || key === 'nullable') continue;
    if (key === '$ref' && typeof value === 'string') out.$ref = rewriteRef(value);
    else if (SCHEMA_MAP_KEYWORDS.includes(key) && value && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v, rewriteRef)]));
    } else if (SCHEMA_KEYWORDS.includes(key)) {
      // draft-07 tuple `items: [...]` would be `prefixItems` in 2020-12.
      if (key === 'items' && Array.isArray(value)) out.prefixItems = value.map((v) => convert(v, rewriteRef));
      else out[key] = convert(value, rewriteRef);
    } else if (SCHEMA_ARRAY_KEYWORDS.includes(key) && Array.isArray(value)) {
      out[key] = value.map((v) => convert(v, rewriteRef));
    } else out[key] = value;
  }
  if (schema.nullable === true) return makeNullable(out);
  return out;
}

function makeNullable(schema: JsonSchema): JsonSchema {
  const out = { ...schema };
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  if (typeof out.type === 'string') out.type = [out.type, 'null'];
  else if (Array.isArray(out.type)) {
    if (!out.type.includes('null')) out.type = [...out.type, 'null'];
  } else if (!('enum' in out) && !('const' in out)) return { anyOf: [out, { type: 'null' }] };
  return out;
}

/**
 * Component schemas for one validator schema: `rootName` for the root, plus one per definition under
 * its own name.
 */
export function validatorSchemaToComponents(schema: JsonSchema, rootName: string): Record<string, JsonSchema> {
  const rewrite = (ref: string) => {
    const m = /^#\/(?:definitions|\$defs)\/([^/]+)$/.exec(ref);
    if (m) return componentRef(m[1]).$ref;
    if (ref === '#') return componentRef(rootName).$ref;
    throw new Error(`cannot place $ref "${ref}" of ${rootName} in the OpenAPI document`);
  };
  const { definitions, $defs, ...root } = schema;
  const out: Record<string, JsonSchema> = { [rootName]: convert(root, rewrite) as JsonSchema };
  const defs = { ...((definitions as Record<string, unknown>) ?? {}), ...(($defs as Record<string, unknown>) ?? {}) };
  for (const [name, def] of Object.entries(defs)) {
    if (name === rootName) throw new Error(`definition ${name} has the same name as its root schema`);
    out[name] = convert(def, rewrite) as JsonSchema;
  }
  return out;
}

/** `schema` made nullable the OpenAPI 3.1 way. */
export function nullable(schema: JsonSchema): JsonSchema {
  return makeNullable(schema);
}

/** A copy of an object schema with descriptions added to some of its properties (annotations only). */
export function describeProperties(schema: JsonSchema, descriptions: Record<string, string>): JsonSchema {
  const properties = { ...(schema.properties as Record<string, JsonSchema>) };
  for (const [name, description] of Object.entries(descriptions)) {
    if (!properties[name]) throw new Error(`cannot describe unknown property "${name}"`);
    properties[name] = { ...properties[name], description };
  }
  return { ...schema, properties };
}
