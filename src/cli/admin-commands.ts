import { createAccessKey, listAccessKeys, revokeAccessKey } from '../auth/access-keys.ts';
import { channelJson, createChannel, listChannels } from '../channels/channels.ts';
import { checkConnectorConfig } from '../channels/connector-config.ts';
import { isPlatform, PLATFORM_NAMES } from '../channels/platforms.ts';
import { createConnectorRegistry } from '../connectors/registry.ts';
import { ApiError } from '../errors.ts';
import { ConfigError, type Config } from '../config.ts';
import { openDatabase, type Db } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { isUuid } from '../ids.ts';
import { createOrganization, firstOrganization, getWorkspace, createWorkspace, listWorkspaces } from '../workspaces/workspaces.ts';

// Operator commands that work on the store directly, without the API or an access key.

export interface CommandArgs {
  positional: string[];
  flags: Map<string, string>;
}

/** Where a command writes: the process's streams from the binary, anything with `write` when embedded. */
export interface CliOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

type Command = (config: Config, args: CommandArgs, io: CliOutput) => Promise<number>;

async function withStore(config: Config, io: CliOutput, fn: (db: Db) => Promise<number>): Promise<number> {
  const database = await openDatabase(config);
  try {
    await migrate(database.db, (name) => io.stderr.write(`applying migration ${name}\n`));
    return await fn(database.db);
  } finally {
    await database.close();
  }
}

function requireFlag(args: CommandArgs, name: string): string {
  const v = args.flags.get(name);
  if (!v || v === 'true') throw new ConfigError(`${name} <value> is required`);
  return v;
}

async function requireWorkspace(db: Db, id: string) {
  const ws = isUuid(id) ? await getWorkspace(db, id) : undefined;
  if (!ws) throw new ConfigError(`workspace ${id} does not exist`);
  return ws;
}

function table(out: (line: string) => void, rows: Record<string, unknown>[]): void {
  if (rows.length === 0) {
    out('(none)');
    return;
  }
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  out(cols.map((c, i) => c.padEnd(width[i])).join('  '));
  for (const r of rows) out(cols.map((c, i) => String(r[c] ?? '').padEnd(width[i])).join('  '));
}

const workspaces: Command = (config, { positional, flags }, io) =>
  withStore(config, io, async (db) => {
    const out = (line: string) => io.stdout.write(`${line}\n`);
    const [action, name] = positional;
    if (action === 'list') {
      table(out, (await listWorkspaces(db)).map((w) => ({ id: w.id, organization: w.organizationId, name: w.name, created: w.createdAt.toISOString() })));
      return 0;
    }
    if (action === 'create') {
      if (!name) throw new ConfigError('usage: aviary workspaces create <name>');
      const orgId = flags.get('--organization') ?? (await firstOrganization(db))?.id ?? (await createOrganization(db, 'Aviary')).id;
      const ws = await createWorkspace(db, orgId, name);
      out(JSON.stringify({ id: ws.id, organizationId: ws.organizationId, name: ws.name }, null, 2));
      return 0;
    }
    throw new ConfigError('usage: aviary workspaces <list|create>');
  });

const keys: Command = (config, { positional, flags }, io) =>
  withStore(config, io, async (db) => {
    const out = (line: string) => io.stdout.write(`${line}\n`);
    const [action, target] = positional;
    if (action === 'list') {
      table(out, (await listAccessKeys(db)).map((k) => ({ id: k.id, prefix: k.prefix, name: k.name, workspace: k.workspaceId ?? '(all)', revoked: k.revokedAt?.toISOString() ?? '' })));
      return 0;
    }
    if (action === 'create') {
      const wsId = flags.get('--workspace');
      const ws = wsId ? await requireWorkspace(db, wsId) : undefined;
      const orgId = ws?.organizationId ?? (await firstOrganization(db))?.id;
      if (!orgId) throw new ConfigError('no organization yet: run `aviary serve` once or `aviary workspaces create <name>`');
      const { key, info } = await createAccessKey(db, { organizationId: orgId, workspaceId: ws?.id ?? null, name: flags.get('--name') ?? 'cli' });
      io.stderr.write('This is the only time the key is shown:\n');
      out(key);
      io.stderr.write(`id ${info.id}, ${ws ? `workspace ${ws.id}` : 'every workspace of the organization'}\n`);
      return 0;
    }
    if (action === 'revoke') {
      if (!target) throw new ConfigError('usage: aviary keys revoke <id|key>');
      if (!(await revokeAccessKey(db, target))) {
        io.stderr.write('no active key matches\n');
        return 1;
      }
      out('revoked');
      return 0;
    }
    throw new ConfigError('usage: aviary keys <list|create|revoke>');
  });

const channels: Command = (config, { positional, flags }, io) =>
  withStore(config, io, async (db) => {
    const out = (line: string) => io.stdout.write(`${line}\n`);
    const [action] = positional;
    const ws = await requireWorkspace(db, requireFlag({ positional, flags }, '--workspace'));
    if (action === 'list') {
      table(out, (await listChannels(db, ws.id)).map((c) => ({ id: c.id, platform: c.platform, name: c.name, status: c.status, connector: c.connectorType, identifier: c.senderIdentifier ?? '' })));
      return 0;
    }
    if (action === 'create') {
      const platform = requireFlag({ positional, flags }, '--platform');
      if (!isPlatform(platform)) throw new ConfigError(`--platform must be one of ${PLATFORM_NAMES.join(', ')}`);
      let connectorConfig: Record<string, unknown> | undefined;
      const raw = flags.get('--config');
      if (raw) {
        try {
          connectorConfig = JSON.parse(raw);
        } catch {
          throw new ConfigError('--config must be a JSON object');
        }
      }
      const connectorType = flags.get('--connector') ?? 'sandbox';
      const types = createConnectorRegistry(config);
      try {
        checkConnectorConfig(types, platform, connectorType, connectorConfig ?? {});
      } catch (err) {
        if (err instanceof ApiError) throw new ConfigError(`--config: ${Object.entries(err.details ?? {}).map(([k, v]) => `${k} ${v.join(', ')}`).join('; ')}`);
        throw err;
      }
      const channel = await createChannel(db, ws.id, {
        platform,
        name: requireFlag({ positional, flags }, '--name'),
        status: flags.has('--inactive') ? 'inactive' : 'active',
        senderIdentifier: flags.get('--identifier'),
        connectorType,
        connectorConfig,
      });
      out(JSON.stringify(channelJson(channel, types), null, 2));
      return 0;
    }
    throw new ConfigError('usage: aviary channels <list|create> --workspace <id>');
  });

const migrateCommand: Command = async (config, _args, io) => {
  const database = await openDatabase(config);
  try {
    const applied = await migrate(database.db, (name) => io.stderr.write(`applying ${name}...\n`));
    io.stdout.write(`${applied.length ? `applied ${applied.length} migration(s)` : 'already up to date'}\n`);
    return 0;
  } finally {
    await database.close();
  }
};

export const adminCommands: Record<string, Command> = { workspaces, keys, channels, migrate: migrateCommand };
