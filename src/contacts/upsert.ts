import type { Db } from '../db/database.ts';
import { RetryTransaction } from '../db/retry-transaction.ts';
import { ApiError, errors } from '../errors.ts';
import { joinLists } from '../lists/lists.ts';
import { applyPatch, lockNamedLists, type ContactPatch } from './contact-patch.ts';
import { addIdentifiers, identifierOwners, insertContact, lockContact, type IdentifierInput } from './contact-store.ts';
import type { Identifier } from './identifiers.ts';

// PATCH /contacts/identifiers/{key}/{value}: update the contact the identifiers name, or create it.
// Bird's strategies decide which contact "the identifiers name" is:
//   strict_alias (default): every identifier that exists must belong to the same contact (else 409);
//                           the others are added to it.
//   first_alias:            the first identifier that exists (path first, then addIdentifiers) picks the
//                           contact; the others are added, which fails (409) for one owned by another contact.
//   first:                  like first_alias, but no identifier is added; a new contact gets only the path's.
// Run it in transactionWithRetry: losing a race to create the same identifier restarts the request,
// which then finds the winner's contact and updates it.

const k = (i: Identifier) => `${i.key}\u0000${i.value}`;

export async function upsertByIdentifier(trx: Db, workspaceId: string, pathId: IdentifierInput, p: ContactPatch): Promise<{ contactId: string; created: boolean }> {
  const strategy = p.strategy ?? 'strict_alias';
  const candidates = [...new Map([pathId, ...(p.addIdentifiers ?? [])].map((i) => [k(i), i])).values()];
  const owners = await identifierOwners(trx, workspaceId, candidates);
  const matched = candidates.map((c) => owners.get(k(c))).filter((x): x is string => x !== undefined);
  if (strategy === 'strict_alias' && new Set(matched).size > 1) {
    throw errors.resourceAlreadyExists('the identifiers belong to different contacts (strategy strict_alias)');
  }
  const existing = matched[0];
  if (existing) {
    if (!(await lockContact(trx, workspaceId, existing))) throw new RetryTransaction('the matching contact was deleted concurrently');
    const toAdd = strategy === 'first' ? [] : candidates.filter((c) => owners.get(k(c)) !== existing);
    await applyPatch(trx, workspaceId, existing, { ...p, addIdentifiers: toAdd });
    return { contactId: existing, created: false };
  }
  await lockNamedLists(trx, workspaceId, { listIds: p.listIds, addToLists: p.addToLists });
  const contactId = await insertContact(trx, workspaceId, { displayName: p.displayName, attributes: p.attributes });
  try {
    await addIdentifiers(trx, workspaceId, contactId, strategy === 'first' ? [pathId] : candidates);
  } catch (err) {
    // Another request created one of these identifiers since the lookup above.
    if (err instanceof ApiError && err.code === 'ResourceAlreadyExists') throw new RetryTransaction('an identifier was created concurrently');
    throw err;
  }
  await joinLists(trx, workspaceId, contactId, [...(p.listIds ?? []), ...(p.addToLists ?? [])]);
  return { contactId, created: true };
}
