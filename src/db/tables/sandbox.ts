import type { JsonRequired, Timestamp } from './column-types.ts';

// The sandbox's own state: failure-injection rules, one document per workspace.

export interface SandboxChaosTable {
  workspace_id: string;
  seed: string;
  rules: JsonRequired;
  updated_at: Timestamp;
}
