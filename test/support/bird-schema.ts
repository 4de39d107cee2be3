// Bird's own OpenAPI schemas (shared/spec/bird-openapi/createChannelMessage.json) as Ajv validators: the oracle
// Aviary's request validation and response bodies are checked against. The file is used as published, with
// only what Ajv needs to read OpenAPI 3.0.3:
//   - `discriminator` is removed: it is a hint in OpenAPI (the `oneOf` still decides), and Ajv's own
//     discriminator keyword rejects `mapping`.
//   - `nullable` is understood by Ajv 8 natively; `example` and `readOnly` are annotations.
//   - Patterns are compiled without the `u` flag, as ECMA-262 Annex B reads them: Bird's `{{[^{}]+}}` link
//     pattern is a syntax error in unicode mode.
//   - Formats: the same interpretation Aviary uses (src/message-body/create-message-schema.ts `birdFormats`).
//
// The spec and Bird's docs pages live beside the repository (../shared, or AVIARY_SHARED_DIR), not in it:
// a bare clone has neither. Nothing is read at import time, so the files that use them still load there;
// the checks that need them are skipped with `birdSkip` / `seedsSkip` (one line each in the test output,
// saying why), and everything else in those files runs. Product code never reads ../shared.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { birdFormats } from '../../src/message-body/create-message-schema.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDir = process.env.AVIARY_SHARED_DIR ?? path.resolve(repoRoot, '../shared');
export const birdSpecDir = path.join(sharedDir, 'spec/bird-openapi');
export const birdOpenApiPath = path.join(birdSpecDir, 'createChannelMessage.json');
export const seedsDir = path.join(sharedDir, 'seeds');

const shown = process.env.AVIARY_SHARED_DIR ? sharedDir : '../shared';
/** False when Bird's schema is present; else the reason to give node:test's `skip`. */
export const birdSkip: string | false = existsSync(birdSpecDir)
  ? false
  : `skipped: ${shown}/spec not found (Bird's schema is the oracle for these tests)`;
/** False when Bird's docs pages are present; else the reason to give node:test's `skip`. */
export const seedsSkip: string | false = existsSync(seedsDir)
  ? false
  : `skipped: ${shown}/seeds not found (Bird's docs pages are the examples for these tests)`;
export const birdSchemaAvailable = birdSkip === false;

/** A schema file of Bird's OpenAPI fragments, parsed (throws when absent: check `birdSkip` first). */
export function readBirdSpec(file: string): any {
  return JSON.parse(readFileSync(path.join(birdSpecDir, file), 'utf8'));
}

function stripDiscriminators(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripDiscriminators);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) if (k !== 'discriminator') out[k] = stripDiscriminators(v);
  return out;
}

const DOC_ID = 'https://api.bird.com/openapi/createChannelMessage.json';
let ajv: Ajv | undefined;

function birdAjv(): Ajv {
  if (ajv) return ajv;
  const doc = readBirdSpec('createChannelMessage.json') as { components: { schemas: Record<string, unknown> } };
  ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false, formats: birdFormats });
  // Only `components` is a schema location; the `$ref`s are "#/components/schemas/X" relative to this document.
  ajv.addSchema({ $id: DOC_ID, components: stripDiscriminators(doc.components) });
  return ajv;
}

function compile(name: string): ValidateFunction {
  const validate = birdAjv().getSchema(`${DOC_ID}#/components/schemas/${name}`);
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

/**
 * Bodies gathered by behaviour tests, checked against one of Bird's schemas by one test of their own,
 * registered by `test()` at the end of the describe. The behaviour tests run everywhere; only this
 * check needs ../shared, and on a bare clone it is the one line reported skipped, saying why. (A
 * subtest per check would not do: a describe's beforeEach hooks run before subtests too, and the
 * harness's reset would empty the store mid-test.)
 */
export function birdConformance(schema: string, validate: (obj: unknown) => string[] | null = (obj) => validateAgainstBird(schema, obj)) {
  const seen: { where: string; obj: unknown }[] = [];
  return {
    collect(where: string, ...objs: unknown[]): void {
      for (const obj of objs) seen.push({ where, obj });
    },
    test(expected: number): void {
      test(`the ${expected} bodies collected above conform to Bird's ${schema} schema`, { skip: birdSkip }, () => {
        // Fewer means a behaviour test stopped early (and failed): its bodies went unchecked.
        assert.equal(seen.length, expected, `collected from: ${seen.map((s) => s.where).join(', ')}`);
        for (const { where, obj } of seen) assert.equal(validate(obj), null, `${where}: ${JSON.stringify(obj)}`);
      });
    },
  };
}
