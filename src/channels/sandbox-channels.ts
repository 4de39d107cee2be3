import type { Db } from '../db/database.ts';
import { createChannel, type Channel } from './channels.ts';
import { PLATFORMS, PLATFORM_NAMES, type Platform } from './platforms.ts';

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
