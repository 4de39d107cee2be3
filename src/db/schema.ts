import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

// Kysely's view of the tables in migrations/. Columns with database defaults are Generated.
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<unknown, string | undefined, string>;
type JsonRequired = ColumnType<unknown, string, string>;

export interface OrganizationsTable {
  id: string;
  name: string;
  created_at: Timestamp;
}

export interface WorkspacesTable {
  id: string;
  organization_id: string;
  name: string;
  description: string | null;
  status: Generated<'active' | 'inactive'>;
  data_policy: ColumnType<unknown, string | null | undefined, string | null>;
  configuration: ColumnType<unknown, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AccessKeysTable {
  id: string;
  organization_id: string;
  workspace_id: string | null;
  name: string;
  prefix: string;
  key_hash: string;
  created_at: Timestamp;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

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

export interface ContactsTable {
  workspace_id: string;
  id: string;
  display_name: string | null;
  attributes: Json;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ContactIdentifiersTable {
  workspace_id: string;
  identifier_key: string;
  identifier_value: string;
  contact_id: string;
  created_at: Timestamp;
  properties: Json;
}

export interface ListsTable {
  workspace_id: string;
  id: string;
  name: string;
  description: string | null;
  consent_type: string | null;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  is_proof: Generated<boolean>;
  contact_count: ColumnType<string, string | number | undefined, string | number>;
  counter_updated_at: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ListMembersTable {
  workspace_id: string;
  list_id: string;
  contact_id: string;
  created_at: Timestamp;
}

export interface MessagesTable {
  workspace_id: string;
  id: string;
  channel_id: string;
  platform: string;
  direction: string;
  status: string;
  sender: JsonRequired;
  receiver: JsonRequired;
  body: Json;
  template: Json;
  meta: Json;
  reference: string | null;
  reply_to: Json;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  short_links: Json;
  scheduled_for: ColumnType<Date | null, Date | null | undefined, Date | null>;
  validity: number | null;
  notification_url: string | null;
  options: Json;
  batch_id: string | null;
  navigator_id: string | null;
  from_identifier: string | null;
  to_identifiers: ColumnType<string[], string[] | undefined, string[]>;
  country_codes: ColumnType<string[], string[] | undefined, string[]>;
  email_subject: string | null;
  reason: string | null;
  details: string | null;
  failure: Json;
  failure_code: number | null;
  failure_source_code: string | null;
  failure_source_name: string | null;
  parts: Json;
  chargeable_units: number | null;
  origin: Json;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_status_at: Timestamp;
  next_attempt_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  attempts: Generated<number>;
  lease_owner: string | null;
  lease_expires_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  platform_reference: string | null;
  receiver_outcomes: Json;
}

export interface MessageStatusHistoryTable {
  workspace_id: string;
  message_id: string;
  seq: Generated<number>;
  status: string;
  at: Timestamp;
  reason: string | null;
  failure: Json;
}

export interface ConnectorEventsTable {
  workspace_id: string;
  id: string;
  channel_id: string;
  message_id: string | null;
  kind: string;
  payload: JsonRequired;
  due_at: Timestamp;
  lease_owner: string | null;
  lease_expires_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface SuppressionsTable {
  workspace_id: string;
  identifier_key: string;
  identifier_value: string;
  reason: string | null;
  created_at: Timestamp;
}

export interface ChannelContactsTable {
  workspace_id: string;
  channel_id: string;
  contact_id: string;
  last_inbound_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  metadata: Json;
}

export interface DB {
  organizations: OrganizationsTable;
  workspaces: WorkspacesTable;
  access_keys: AccessKeysTable;
  channels: ChannelsTable;
  contacts: ContactsTable;
  contact_identifiers: ContactIdentifiersTable;
  messages: MessagesTable;
  message_status_history: MessageStatusHistoryTable;
  connector_events: ConnectorEventsTable;
  suppressions: SuppressionsTable;
  channel_contacts: ChannelContactsTable;
  lists: ListsTable;
  list_members: ListMembersTable;
}

export type ChannelRow = Selectable<ChannelsTable>;
export type MessageRow = Selectable<MessagesTable>;
export type NewMessage = Insertable<MessagesTable>;
