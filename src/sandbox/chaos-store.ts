import { sql } from 'kysely';
import type { ChaosConfig, ChaosSource } from '../connectors/sandbox/chaos.ts';
import type { Db } from '../db/database.ts';
import { TtlCache } from '../ttl-cache.ts';

// Where the failure-injection rules live, and how they reach the sandbox without a query per send.
//
// The rules are a row per workspace (sandbox_chaos), read through a per-process cache like the channel
// cache (channels/channel-cache.ts): the sandbox connector asks the cache (a ChaosSource handed to it
// when the registry is built), which reads the row at most once a second per workspace. The process
// that PUTs or DELETEs the rules forgets its entry at once; other processes see the change within
// CHAOS_TTL_MS. Kept out of the channel's connector_config on purpose: workspace-wide rules would have
// to be copied onto every channel (and onto channels created later), and the config is the operator's,
// validated by the connector's schema and shown by the channels API.

const CHAOS_TTL_MS = 1_000;

interface Row {
  seed: string;
  rules: ChaosConfig['rules'];
  updated_at: Date;
}

export interface StoredChaos extends ChaosConfig {
  updatedAt: Date;
}

export async function readChaos(db: Db, workspaceId: string): Promise<StoredChaos | undefined> {
  const row = await db.selectFrom('sandbox_chaos').select(['seed', 'rules', 'updated_at']).where('workspace_id', '=', workspaceId).executeTakeFirst();
  return row && toStored(row as Row);
}

export async function writeChaos(db: Db, workspaceId: string, config: ChaosConfig): Promise<StoredChaos> {
  const rules = JSON.stringify(config.rules);
  const row = await db
    .insertInto('sandbox_chaos')
    .values({ workspace_id: workspaceId, seed: config.seed, rules, updated_at: new Date() })
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ seed: config.seed, rules, updated_at: sql`now()` }))
    .returning(['seed', 'rules', 'updated_at'])
    .executeTakeFirstOrThrow();
  return toStored(row as Row);
}

export async function deleteChaos(db: Db, workspaceId: string): Promise<void> {
  await db.deleteFrom('sandbox_chaos').where('workspace_id', '=', workspaceId).execute();
}

function toStored(row: Row): StoredChaos {
  return { seed: row.seed, rules: row.rules, updatedAt: row.updated_at };
}

/** The per-process cache. `rulesFor` reads through `db`; `rulesIn` through the caller's transaction. */
export class ChaosCache implements ChaosSource {
  // Most workspaces have no rules: that is cached too ({ config: undefined }).
  private readonly cache = new TtlCache<{ config: ChaosConfig | undefined }>(CHAOS_TTL_MS);
  private readonly loading = new Map<string, Promise<ChaosConfig | undefined>>();
  // A read that started before a forget() must not put the old rules back when it lands.
  private generation = 0;
  constructor(private readonly db: Db) {}

  async rulesFor(workspaceId: string): Promise<ChaosConfig | undefined> {
    const hit = this.cache.get(workspaceId);
    if (hit) return hit.config;
    // A thousand sends in flight when the entry expires share one read.
    let pending = this.loading.get(workspaceId);
    if (!pending) {
      pending = this.load(this.db, workspaceId).finally(() => this.loading.delete(workspaceId));
      this.loading.set(workspaceId, pending);
    }
    return pending;
  }

  /**
   * For a caller inside a transaction (the webhook outbox): on PGlite's single session a read through
   * `db` would wait for that transaction to end, so it reads through the transaction, unshared.
   */
  async rulesIn(trx: Db, workspaceId: string): Promise<ChaosConfig | undefined> {
    const hit = this.cache.get(workspaceId);
    return hit ? hit.config : this.load(trx, workspaceId);
  }

  private async load(db: Db, workspaceId: string): Promise<ChaosConfig | undefined> {
    const generation = this.generation;
    const stored = await readChaos(db, workspaceId);
    const config = stored && { seed: stored.seed, rules: stored.rules };
    if (generation === this.generation) this.cache.set(workspaceId, { config });
    return config;
  }

  forget(workspaceId: string): void {
    this.generation++;
    this.cache.delete(workspaceId);
    this.loading.delete(workspaceId);
  }

  clear(): void {
    this.generation++;
    this.cache.clear();
    this.loading.clear();
  }
}
