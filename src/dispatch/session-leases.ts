import { sql } from 'kysely';
import type { Channel } from '../channels/channels.ts';
import type { Db } from '../db/database.ts';

// One session cluster-wide, for channels that ask for it (`settings.sessionScope: "cluster"`: an
// SMSC that grants one bind per account). The session is held under a lease row in
// connector_sessions: the process that takes it opens the session and renews the lease at every
// sweep; the others hand that channel's messages back and pass it by until the lease lapses. A
// holder that dies is replaced once SESSION_LEASE_MS has passed; one that closes the session on
// purpose (shutdown, config change) drops the lease, so the next process takes over at once.
// The default scope, "process", lets every worker process hold its own session.

export const SESSION_LEASE_MS = 15_000;

export function clusterScoped(channel: Pick<Channel, 'settings'>): boolean {
  return channel.settings?.sessionScope === 'cluster';
}

/** Takes (or keeps) the channel's lease for `owner`; false while another process holds it. */
export async function takeSessionLease(db: Db, channel: Pick<Channel, 'workspaceId' | 'id'>, owner: string, now = new Date()): Promise<boolean> {
  const expires = new Date(now.getTime() + SESSION_LEASE_MS);
  const r = await sql<{ owner: string }>`
    insert into connector_sessions (workspace_id, channel_id, owner, expires_at)
    values (${channel.workspaceId}, ${channel.id}, ${owner}, ${expires})
    on conflict (workspace_id, channel_id) do update set owner = excluded.owner, expires_at = excluded.expires_at
      where connector_sessions.owner = excluded.owner or connector_sessions.expires_at < ${now}
    returning owner`.execute(db);
  return r.rows.length > 0;
}

/** Renews this owner's leases; returns the channel ids whose lease it no longer holds. */
export async function renewSessionLeases(db: Db, owner: string, channels: Pick<Channel, 'workspaceId' | 'id'>[], now = new Date()): Promise<Set<string>> {
  if (channels.length === 0) return new Set();
  const r = await sql<{ channel_id: string }>`
    update connector_sessions s set expires_at = ${new Date(now.getTime() + SESSION_LEASE_MS)}
    from unnest(${channels.map((c) => c.workspaceId)}::uuid[], ${channels.map((c) => c.id)}::uuid[]) as t(w, c)
    where s.workspace_id = t.w and s.channel_id = t.c and s.owner = ${owner}
    returning s.channel_id`.execute(db);
  const kept = new Set(r.rows.map((row) => row.channel_id));
  return new Set(channels.filter((c) => !kept.has(c.id)).map((c) => c.id));
}

export async function dropSessionLease(db: Db, channel: Pick<Channel, 'workspaceId' | 'id'>, owner: string): Promise<void> {
  await sql`delete from connector_sessions where workspace_id = ${channel.workspaceId} and channel_id = ${channel.id} and owner = ${owner}`.execute(db);
}
