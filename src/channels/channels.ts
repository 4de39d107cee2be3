import type { Db } from '../db/database.ts';
import { afterPosition, keysetPage, pageOrder, type PageRequest } from '../db/keyset-page.ts';
import type { ChannelRow } from '../db/schema.ts';
import { uuidv7 } from '../ids.ts';
import { redactConfig, type ConnectorTypes } from './connector-config.ts';
import { PLATFORMS, type Platform } from './platforms.ts';

export interface Channel {
  workspaceId: string;
  id: string;
  platform: Platform;
  platformId: string;
  name: string;
  status: 'active' | 'inactive';
  senderIdentifier: string | null;
  connectorId: string;
  connectorType: string;
  connectorConfig: Record<string, unknown>;
  settings: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewChannel {
  platform: Platform;
  name: string;
  status?: 'active' | 'inactive';
  senderIdentifier?: string | null;
  connectorType?: string;
  connectorConfig?: Record<string, unknown>;
  settings?: Record<string, unknown>;
}

export type ChannelPatch = Partial<Omit<NewChannel, 'platform'>>;

export async function createChannel(db: Db, workspaceId: string, input: NewChannel): Promise<Channel> {
  // The page position is (created_at, id) as a page token carries it: milliseconds. A database
  // default (now(), microseconds) would fall between two tokens and repeat rows across pages.
  const now = new Date();
  const row = await db
    .insertInto('channels')
    .values({
      workspace_id: workspaceId,
      id: uuidv7(),
      platform: input.platform,
      platform_id: PLATFORMS[input.platform].platformId,
      name: input.name,
      status: input.status ?? 'active',
      sender_identifier: input.senderIdentifier ?? null,
      connector_id: uuidv7(),
      connector_type: input.connectorType ?? 'sandbox',
      connector_config: JSON.stringify(input.connectorConfig ?? {}),
      settings: JSON.stringify(input.settings ?? {}),
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toChannel(row);
}

export async function getChannel(db: Db, workspaceId: string, id: string): Promise<Channel | undefined> {
  const row = await db.selectFrom('channels').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
  return row && toChannel(row);
}

export async function listChannels(db: Db, workspaceId: string): Promise<Channel[]> {
  const rows = await db.selectFrom('channels').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at').orderBy('id').execute();
  return rows.map(toChannel);
}

export interface ChannelFilter extends PageRequest {
  platforms?: Platform[];
  status?: Channel['status'];
}

/** GET /channels: oldest first (the order they were installed in), keyset-paged like every list. */
export async function listChannelPage(db: Db, workspaceId: string, f: ChannelFilter): Promise<{ rows: Channel[]; nextPageToken: string | null }> {
  const order = pageOrder(f, 'asc');
  let q = db.selectFrom('channels').selectAll().where('workspace_id', '=', workspaceId);
  if (f.platforms) q = q.where('platform', 'in', f.platforms);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.after) q = q.where(afterPosition(f.after, order));
  const page = keysetPage(await q.orderBy('created_at', order).orderBy('id', order).limit(f.limit + 1).execute(), f.limit);
  return { rows: page.rows.map(toChannel), nextPageToken: page.nextPageToken };
}

export async function updateChannel(db: Db, workspaceId: string, id: string, patch: ChannelPatch): Promise<Channel | undefined> {
  const set: Record<string, unknown> = { updated_at: new Date() };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.status !== undefined) set.status = patch.status;
  if (patch.senderIdentifier !== undefined) set.sender_identifier = patch.senderIdentifier;
  if (patch.connectorType !== undefined) set.connector_type = patch.connectorType;
  if (patch.connectorConfig !== undefined) set.connector_config = JSON.stringify(patch.connectorConfig);
  if (patch.settings !== undefined) set.settings = JSON.stringify(patch.settings);
  const row = await db
    .updateTable('channels')
    .set(set)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row && toChannel(row);
}

export async function deleteChannel(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('channels').where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function countChannels(db: Db, workspaceId: string): Promise<number> {
  const row = await db.selectFrom('channels').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow();
  return Number(row.n);
}

export function toChannel(row: ChannelRow): Channel {
  return {
    workspaceId: row.workspace_id,
    id: row.id,
    platform: row.platform as Platform,
    platformId: row.platform_id,
    name: row.name,
    status: row.status as Channel['status'],
    senderIdentifier: row.sender_identifier,
    connectorId: row.connector_id,
    connectorType: row.connector_type,
    connectorConfig: (row.connector_config ?? {}) as Record<string, unknown>,
    settings: (row.settings ?? {}) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The channel as the API shows it; `types` says which config fields are secrets (connector-config.ts). */
export function channelJson(c: Channel, types: ConnectorTypes) {
  return {
    id: c.id,
    workspaceId: c.workspaceId,
    name: c.name,
    platform: c.platform,
    platformId: c.platformId,
    status: c.status,
    identifier: c.senderIdentifier,
    connector: { id: c.connectorId, type: c.connectorType, config: redactConfig(types.get(c.connectorType)?.configSchema, c.connectorConfig) },
    settings: c.settings,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}
