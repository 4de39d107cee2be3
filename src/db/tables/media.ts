import type { ColumnType } from 'kysely';
import type { NullableTimestamp, Timestamp } from './column-types.ts';

export interface MediaTable {
  workspace_id: string;
  id: string;
  origin: 'upload' | 'inbound';
  channel_id: string | null;
  message_id: string | null;
  status: 'pending' | 'uploading' | 'ready';
  storage: string;
  object_key: string;
  content_type: string;
  /** bigint: a number from node-postgres (database.ts sets the int8 parser), a string from PGlite. */
  max_bytes: ColumnType<number | string, number, number>;
  size: ColumnType<number | string | null, number | null | undefined, number | null>;
  filename: string | null;
  source_url: string | null;
  expires_at: NullableTimestamp;
  created_at: Timestamp;
  claimed_at: NullableTimestamp;
  stored_at: NullableTimestamp;
}

export interface MediaSigningKeysTable {
  id: number;
  secret: ColumnType<Uint8Array, Uint8Array, Uint8Array>;
  created_at: Timestamp;
}
