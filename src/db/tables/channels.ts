import type { Generated } from 'kysely';
import type { Json, NullableTimestamp, Timestamp } from './column-types.ts';

export interface ChannelsTable {
  workspace_id: string;
  id: string;
  platform: string;
  platform_id: string;
  name: string;
  status: Generated<string>;
  sender_identifier: string | null;
  connector_id: string;
  connector_type: string;
  connector_config: Json;
  settings: Json;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Per channel and contact: the WhatsApp service window (last inbound) and Bird's contact metadata. */
export interface ChannelContactsTable {
  workspace_id: string;
  channel_id: string;
  contact_id: string;
  last_inbound_at: NullableTimestamp;
  metadata: Json;
}
