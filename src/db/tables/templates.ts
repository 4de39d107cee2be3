import type { ColumnType, Generated } from 'kysely';
import type { Json, Timestamp } from './column-types.ts';

export interface TemplateProjectsTable {
  workspace_id: string;
  id: string;
  name: string;
  description: string | null;
  type: string;
  version_count: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TemplateVersionsTable {
  workspace_id: string;
  id: string;
  project_id: string;
  number: number;
  status: string;
  description: string | null;
  default_locale: string;
  supported_platforms: ColumnType<string[], string[], string[]>;
  locales: ColumnType<string[], string[], string[]>;
  variables: Json;
  generic_content: Json;
  platform_content: Json;
  deployments: Json;
  approvals: Json;
  activated_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}
