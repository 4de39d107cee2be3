import type { FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import { errors } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { getWorkspace, type Workspace } from '../workspaces/workspaces.ts';
import { TtlCache } from '../ttl-cache.ts';
import { findActiveKey, hashKey, type AccessKeyInfo } from './access-keys.ts';
import { AuthFailureLimiter } from './auth-failures.ts';

// Authentication runs on every request, so what it reads is cached for a few seconds per process.
// The cost is that a key revoked by another process keeps working here for at most KEY_TTL_MS;
// revocation through this process takes effect at once (forget()).

const KEY_TTL_MS = 5_000;
const WORKSPACE_TTL_MS = 60_000;
// Unknown keys are remembered as briefly as known ones, so repeating a bad key costs one lookup per
// TTL. The cost: a key created by another process (`aviary keys create`) that was tried here just
// before it existed is refused for up to UNKNOWN_TTL_MS more.
const UNKNOWN_TTL_MS = 5_000;
// Keys that authenticated recently are exempt from the per-client failure limit (auth-failures.ts).
const GOOD_TTL_MS = 3_600_000;
export interface Principal {
  key: AccessKeyInfo;
  workspace: Workspace;
}

export class Authenticator {
  private readonly keys = new TtlCache<AccessKeyInfo>(KEY_TTL_MS);
  private readonly workspaces = new TtlCache<Workspace>(WORKSPACE_TTL_MS);
  private readonly unknown = new TtlCache<true>(UNKNOWN_TTL_MS);
  private readonly good = new TtlCache<true>(GOOD_TTL_MS);
  private readonly failures: AuthFailureLimiter;
  private readonly inflight = new Map<string, Promise<AccessKeyInfo | undefined>>();

  constructor(
    private readonly db: Db,
    opts: { failuresPerMinute?: number } = {},
  ) {
    this.failures = new AuthFailureLimiter(opts.failuresPerMinute ?? 0);
  }

  /** The key presented with the request: `Authorization: AccessKey <key>` (Bearer accepted too). */
  async authenticate(request: FastifyRequest): Promise<AccessKeyInfo> {
    const header = request.headers.authorization;
    if (!header) throw errors.unauthorized('Missing Authorization header: expected "AccessKey <key>"');
    const match = /^(AccessKey|Bearer)\s+(\S+)\s*$/i.exec(header);
    if (!match) throw errors.unauthorized('Malformed Authorization header: expected "AccessKey <key>"');
    const key = match[2];
    const hash = hashKey(key);
    const cached = this.keys.get(hash);
    if (cached) return cached;
    const client = request.ip;
    // A request that joins a lookup already under way costs nothing more and is not counted: a burst
    // of concurrent first requests with one new, valid key must not be refused as a flood.
    const limited = !this.good.get(hash) && !this.inflight.has(hash);
    if (limited) this.failures.take(client);
    let info: AccessKeyInfo | undefined;
    try {
      info = this.unknown.get(hash) ? undefined : await this.lookup(key, hash);
    } catch (err) {
      // The store failed, not the client.
      if (limited) this.failures.refund(client);
      throw err;
    }
    if (!info) {
      this.unknown.set(hash, true);
      throw errors.unauthorized('The access key is unknown or revoked');
    }
    if (limited) this.failures.refund(client);
    this.keys.set(hash, info);
    this.good.set(hash, true);
    return info;
  }

  /** One lookup per key at a time: concurrent requests with the same uncached key share it. */
  private lookup(key: string, hash: string): Promise<AccessKeyInfo | undefined> {
    let pending = this.inflight.get(hash);
    if (!pending) {
      pending = findActiveKey(this.db, key).finally(() => this.inflight.delete(hash));
      this.inflight.set(hash, pending);
    }
    return pending;
  }

  /** 404 for a workspace that does not exist, 403 for one the key may not use. */
  async authorizeWorkspace(key: AccessKeyInfo, workspaceId: string): Promise<Workspace> {
    let ws = this.workspaces.get(workspaceId);
    if (!ws) {
      ws = isUuid(workspaceId) ? await getWorkspace(this.db, workspaceId) : undefined;
      if (!ws) throw errors.notFound('workspace');
      this.workspaces.set(workspaceId, ws);
    }
    if (ws.organizationId !== key.organizationId) throw errors.forbidden();
    if (key.workspaceId && key.workspaceId !== ws.id) throw errors.forbidden();
    return ws;
  }

  /** After a workspace changed: the next request reads it again. */
  forgetWorkspace(id: string): void {
    this.workspaces.delete(id);
  }

  forgetKey(key: string): void {
    this.keys.delete(hashKey(key));
    this.good.delete(hashKey(key));
  }

  clear(): void {
    this.keys.clear();
    this.workspaces.clear();
    this.unknown.clear();
    this.good.clear();
    this.failures.reset();
  }
}
