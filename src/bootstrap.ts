import { sql } from 'kysely';
import { createAccessKey } from './auth/access-keys.ts';
import { createChannel, type Channel } from './channels/channels.ts';
import { PLATFORMS, PLATFORM_NAMES, type Platform } from './channels/platforms.ts';
import type { Db } from './db/database.ts';
import { createOrganization, createWorkspace, type Workspace } from './workspaces/workspaces.ts';

// First start on an empty store: everything a newcomer needs to send a message right away.
// Runs under an advisory lock so that several processes starting together bootstrap once.

const BOOTSTRAP_LOCK = 7_461_812_002;

const SANDBOX_SENDERS: Record<Platform, string> = {
  sms: '+15550100001',
  whatsapp: '+15550100002',
  email: 'sandbox@aviary.local',
  rcs: '+15550100003',
  telegram: 'aviary_sandbox_bot',
  line: 'aviary-sandbox',
  'apple-business-chat': 'aviary-sandbox-business',
  instagram: 'aviary.sandbox',
  facebook: 'aviary-sandbox-page',
  viber: 'AviarySandbox',
};

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

/**
 * One sandbox channel per platform: what makes a workspace usable in the emulator at once. The
 * starter workspace gets them, and so does every workspace created through the API (Bird creates no
 * channels there, but an emulator workspace without any could send nothing until a channel is made).
 */
export async function createSandboxChannels(db: Db, workspaceId: string): Promise<Channel[]> {
  const channels: Channel[] = [];
  for (const platform of PLATFORM_NAMES) {
    channels.push(
      await createChannel(db, workspaceId, {
        platform,
        name: `${PLATFORMS[platform].label} sandbox`,
        senderIdentifier: SANDBOX_SENDERS[platform],
        connectorType: 'sandbox',
      }),
    );
  }
  return channels;
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
