// Bird's own OpenAPI schemas (shared/spec/bird-openapi/createChannelMessage.json) as Ajv validators: the oracle
// Aviary's request validation and response bodies are checked against. The file is used as published, with
// only what Ajv needs to read OpenAPI 3.0.3:
//   - `discriminator` is removed: it is a hint in OpenAPI (the `oneOf` still decides), and Ajv's own
//     discriminator keyword rejects `mapping`.
//   - `nullable` is understood by Ajv 8 natively; `example` and `readOnly` are annotations.
//   - Patterns are compiled without the `u` flag, as ECMA-262 Annex B reads them: Bird's `{{[^{}]+}}` link
//     pattern is a syntax error in unicode mode.
//   - Formats: the same interpretation Aviary uses (src/message-body/create-message-schema.ts `birdFormats`).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { birdFormats } from '../../src/message-body/create-message-schema.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDir = process.env.AVIARY_SHARED_DIR ?? path.resolve(repoRoot, '../shared');
export const birdOpenApiPath = path.join(sharedDir, 'spec/bird-openapi/createChannelMessage.json');

function stripDiscriminators(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripDiscriminators);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) if (k !== 'discriminator') out[k] = stripDiscriminators(v);
  return out;
}

const DOC_ID = 'https://api.bird.com/openapi/createChannelMessage.json';
const doc = JSON.parse(readFileSync(birdOpenApiPath, 'utf8')) as { components: { schemas: Record<string, unknown> } };

const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false, formats: birdFormats });
// Only `components` is a schema location; the `$ref`s are "#/components/schemas/X" relative to this document.
ajv.addSchema({ $id: DOC_ID, components: stripDiscriminators(doc.components) });

function compile(name: string): ValidateFunction {
  const validate = ajv.getSchema(`${DOC_ID}#/components/schemas/${name}`);
  if (!validate) throw new Error(`schema ${name} not found in ${birdOpenApiPath}`);
  return validate;
}

const validators = new Map<string, ValidateFunction>();

/** Errors from validating `obj` against the named schema in Bird's fragment, or null when it is valid. */
export function validateAgainstBird(schemaName: string, obj: unknown): string[] | null {
  let validate = validators.get(schemaName);
  if (!validate) validators.set(schemaName, (validate = compile(schemaName)));
  if (validate(obj)) return null;
  return (validate.errors ?? []).map(formatError);
}

export const validateAgainstBirdMessage = (obj: unknown): string[] | null => validateAgainstBird('Message', obj);
export const validateAgainstBirdCreateMessage = (obj: unknown): string[] | null =>
  validateAgainstBird('CreateMessage', obj);

function formatError(e: ErrorObject): string {
  return `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`;
}
