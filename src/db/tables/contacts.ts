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
}

export interface SuppressionsTable {
  workspace_id: string;
  identifier_key: string;
  identifier_value: string;
  reason: string | null;
  created_at: Timestamp;
}
