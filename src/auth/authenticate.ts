import type { FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import { errors } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { getWorkspace, type Workspace } from '../workspaces/workspaces.ts';
import { TtlCache } from '../ttl-cache.ts';
import { findActiveKey, hashKey, type AccessKeyInfo } from './access-keys.ts';

// Authentication runs on every request, so what it reads is cached for a few seconds per process.
// The cost is that a key revoked by another process keeps working here for at most KEY_TTL_MS;
// revocation through this process takes effect at once (forget()).

const KEY_TTL_MS = 5_000;
const WORKSPACE_TTL_MS = 60_000;
export interface Principal {
  key: AccessKeyInfo;
  workspace: Workspace;
}

export class Authenticator {
  private readonly keys = new TtlCache<AccessKeyInfo>(KEY_TTL_MS);
  private readonly workspaces = new TtlCache<Workspace>(WORKSPACE_TTL_MS);

  constructor(private readonly db: Db) {}

  /** The key presented with the request: `Authorization: AccessKey <key>` (Bearer accepted too). */
  async authenticate(request: FastifyRequest): Promise<AccessKeyInfo> {
    const header = request.headers.authorization;
    if (!header) throw errors.unauthorized('Missing Authorization header: expected "AccessKey <key>"');
    const match = /^(AccessKey|Bearer)\s+(\S+)\s*$/i.exec(header);
    if (!match) throw errors.unauthorized('Malformed Authorization header: expected "AccessKey <key>"');
    const key = match[2];
    const hash = hashKey(key);
    let info = this.keys.get(hash);
    if (!info) {
      info = await findActiveKey(this.db, key);
      if (!info) throw errors.unauthorized('The access key is unknown or revoked');
      this.keys.set(hash, info);
    }
    return info;
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
  }

  clear(): void {
    this.keys.clear();
    this.workspaces.clear();
  }
}
