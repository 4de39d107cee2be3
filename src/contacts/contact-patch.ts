import type { Db } from '../db/database.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { bodyValidator } from '../http/validate.ts';
import { joinLists, leaveLists, lockLists } from '../lists/lists.ts';
import { addIdentifiers, removeIdentifiers, updateContactFields, type IdentifierInput } from './contact-store.ts';
import { checkIdentifiers, identifierSchema, type Identifier } from './identifiers.ts';

// The bodies of create, update and upsert-by-identifier, and applying them to a contact. One schema
// for the three keeps their rules identical, as Bird documents them.

const attributeScalar = { type: ['string', 'number', 'boolean'] };
/** Bird: an attribute is a boolean, number or string, a non-empty array of those, or null. */
export const attributesSchema = {
  type: ['object', 'null'],
  propertyNames: { minLength: 1, maxLength: 128 },
  additionalProperties: { anyOf: [{ type: 'null' }, attributeScalar, { type: 'array', minItems: 1, items: attributeScalar }] },
};
const listIdsSchema = { type: ['array', 'null'], maxItems: 10, items: { type: 'string', format: 'uuid' } };
const identifiers = (withProperties: boolean) => ({ type: 'array', maxItems: 100, items: identifierSchema(withProperties) });

export const STRATEGIES = ['strict_alias', 'first_alias', 'first'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface ContactPatch {
  displayName?: string | null;
  attributes?: Record<string, unknown> | null;
  addIdentifiers?: IdentifierInput[];
  removeIdentifiers?: Identifier[];
  /** Bird's deprecated way to add identifiers; read as `addIdentifiers`. */
  identifiers?: IdentifierInput[] | null;
  addToLists?: string[] | null;
  removeFromLists?: string[] | null;
  /** Replaces the contact's lists. */
  listIds?: string[] | null;
  strategy?: Strategy;
}

export interface CreateContactBody {
  displayName: string;
  identifiers?: IdentifierInput[];
  attributes?: Record<string, unknown> | null;
  listIds?: string[] | null;
}

export const createContactSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['displayName'],
  properties: {
    displayName: { type: 'string', minLength: 1, maxLength: 150 },
    identifiers: identifiers(true),
    attributes: attributesSchema,
    listIds: listIdsSchema,
  },
};

export const patchContactSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    displayName: { type: ['string', 'null'], minLength: 1, maxLength: 150 },
    attributes: attributesSchema,
    addIdentifiers: identifiers(true),
    removeIdentifiers: identifiers(false),
    identifiers: { ...identifiers(true), type: ['array', 'null'] },
    addToLists: listIdsSchema,
    removeFromLists: listIdsSchema,
    listIds: listIdsSchema,
    strategy: { enum: STRATEGIES },
  },
};

const validateCreateBody = bodyValidator<CreateContactBody>(createContactSchema);
const validatePatchBody = bodyValidator<ContactPatch>(patchContactSchema);

/** Splits Bird's `attributes.displayName` out into the display name (where Aviary keeps it). */
function liftDisplayName<T extends { displayName?: string | null; attributes?: Record<string, unknown> | null }>(b: T, details: ErrorDetails): T {
  if (!b.attributes || !('displayName' in b.attributes)) return b;
  const { displayName, ...rest } = b.attributes;
  if (displayName !== null && (typeof displayName !== 'string' || displayName.length > 150)) details['.attributes.displayName'] = ['must be a string of at most 150 characters, or null'];
  return { ...b, attributes: rest, displayName: b.displayName ?? (displayName as string | null) };
}

export function readCreateBody(body: unknown): CreateContactBody {
  const b = validateCreateBody(body);
  const details: ErrorDetails = {};
  const out = liftDisplayName({ ...b, identifiers: checkIdentifiers(b.identifiers, '.identifiers', details) }, details);
  if (Object.keys(details).length) throw errors.invalidPayload(details);
  return out;
}

export function readPatchBody(body: unknown): ContactPatch {
  const b = validatePatchBody(body ?? {});
  const details: ErrorDetails = {};
  const out = liftDisplayName(
    {
      ...b,
      addIdentifiers: [...checkIdentifiers(b.addIdentifiers, '.addIdentifiers', details), ...checkIdentifiers(b.identifiers ?? undefined, '.identifiers', details)],
      removeIdentifiers: checkIdentifiers(b.removeIdentifiers, '.removeIdentifiers', details),
      identifiers: undefined,
    },
    details,
  );
  if (Object.keys(details).length) throw errors.invalidPayload(details);
  return out;
}

/** 422 for list ids that are not lists of the workspace, keyed by where they were given; locks the others. */
export async function lockNamedLists(trx: Db, workspaceId: string, fields: Record<string, string[] | null | undefined>): Promise<void> {
  const all = Object.values(fields).flatMap((v) => v ?? []);
  const found = await lockLists(trx, workspaceId, all);
  const details: ErrorDetails = {};
  for (const [field, ids] of Object.entries(fields)) {
    (ids ?? []).forEach((id, i) => {
      if (!found.has(id)) details[`.${field}[${i}]`] = ['list not found'];
    });
  }
  if (Object.keys(details).length) throw errors.invalidPayload(details);
}

/**
 * Applies an update to a locked contact. `addIdentifiers: false` leaves identifiers out (the upsert's
 * `first` strategy adds none).
 */
export async function applyPatch(trx: Db, workspaceId: string, contactId: string, p: ContactPatch, o: { addIdentifiers?: boolean } = {}): Promise<void> {
  await lockNamedLists(trx, workspaceId, { listIds: p.listIds, addToLists: p.addToLists, removeFromLists: p.removeFromLists });
  await updateContactFields(trx, workspaceId, contactId, { displayName: p.displayName, attributes: p.attributes });
  if (p.removeIdentifiers?.length) await removeIdentifiers(trx, workspaceId, contactId, p.removeIdentifiers);
  if (o.addIdentifiers !== false && p.addIdentifiers?.length) await addIdentifiers(trx, workspaceId, contactId, p.addIdentifiers);
  if (p.listIds) {
    await leaveLists(trx, workspaceId, contactId, { exceptIds: p.listIds });
    await joinLists(trx, workspaceId, contactId, p.listIds);
  }
  if (p.removeFromLists?.length) await leaveLists(trx, workspaceId, contactId, { listIds: p.removeFromLists });
  if (p.addToLists?.length) await joinLists(trx, workspaceId, contactId, p.addToLists);
}
