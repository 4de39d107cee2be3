import type { ColumnType, Generated } from 'kysely';
import type { Timestamp } from './column-types.ts';

// Organizations, workspaces and access keys: small, read on every request (through caches), and the
// tables a Citus cluster would keep as reference tables rather than distribute.

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

export interface MigrationsTable {
  name: string;
  applied_at: Timestamp;
}
