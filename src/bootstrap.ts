import { sql } from 'kysely';
import { createAccessKey } from './auth/access-keys.ts';
import type { Channel } from './channels/channels.ts';
import { createSandboxChannels } from './channels/sandbox-channels.ts';
import type { Db } from './db/database.ts';
import { createOrganization, createWorkspace, type Workspace } from './workspaces/workspaces.ts';

// First start on an empty store: everything a newcomer needs to send a message right away.
// Runs under an advisory lock so that several processes starting together bootstrap once.

const BOOTSTRAP_LOCK = 7_461_812_002;

export interface BootstrapResult {
  organizationId: string;
  workspace: Workspace;
  accessKey: string;
  channels: Channel[];
}

export async function bootstrapIfEmpty(db: Db): Promise<BootstrapResult | undefined> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`.execute(trx);
    const existing = await trx.selectFrom('organizations').select('id').limit(1).executeTakeFirst();
    if (existing) return undefined;
    return createStarterWorkspace(trx);
  });
}

export async function createStarterWorkspace(db: Db, organizationId?: string, name = 'Default'): Promise<BootstrapResult> {
  const orgId = organizationId ?? (await createOrganization(db, 'Aviary')).id;
  const workspace = await createWorkspace(db, orgId, name);
  const { key } = await createAccessKey(db, { organizationId: orgId, workspaceId: null, name: 'bootstrap' });
  const channels = await createSandboxChannels(db, workspace.id);
  return { organizationId: orgId, workspace, accessKey: key, channels };
}

export function welcomeText(result: BootstrapResult, baseUrl: string): string {
  const sms = result.channels.find((c) => c.platform === 'sms')!;
  const lines = [
    '',
    'Aviary is ready. This is the only time the access key is shown: keep it.',
    '',
    `  organization  ${result.organizationId}`,
    `  workspace     ${result.workspace.id}`,
    `  access key    ${result.accessKey}`,
    '',
    '  sandbox channels:',
    ...result.channels.map((c) => `    ${c.platform.padEnd(20)} ${c.id}`),
    '',
    'Send a first message:',
    '',
    `curl -sS -X POST '${baseUrl}/workspaces/${result.workspace.id}/channels/${sms.id}/messages' \\`,
    `  -H 'Authorization: AccessKey ${result.accessKey}' -H 'Content-Type: application/json' \\`,
    `  -d '{"receiver":{"contacts":[{"identifierValue":"+31612345678"}]},"body":{"type":"text","text":{"text":"Hello from Aviary"}}}'`,
    '',
  ];
  return lines.join('\n');
}
