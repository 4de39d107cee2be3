import type { ColumnType, Generated } from 'kysely';
import type { Json, Timestamp } from './column-types.ts';

export interface ContactsTable {
  workspace_id: string;
  id: string;
  display_name: string | null;
  attributes: Json;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** One row per (key, value): an identifier belongs to one contact of the workspace. */
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

export interface SuppressionsTable {
  workspace_id: string;
  identifier_key: string;
  identifier_value: string;
  reason: string | null;
  created_at: Timestamp;
}
