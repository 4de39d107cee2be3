import type { ColumnType, Generated } from 'kysely';
import type { Json, NullableTimestamp, Timestamp } from './column-types.ts';

type NullableTextArray = ColumnType<string[] | null, string[] | null | undefined, string[] | null>;

export interface WebhookSubscriptionsTable {
  workspace_id: string;
  id: string;
  organization_id: string;
  service: string;
  event: string;
  event_filters: Json;
  filter_signature: Generated<string>;
  filter_channel_id: string | null;
  filter_statuses: NullableTextArray;
  filter_interaction_types: NullableTextArray;
  filter_platform_ids: NullableTextArray;
  template: string | null;
  url: string;
  signing_key: string;
  standard_webhooks: Generated<boolean>;
  status: Generated<string>;
  status_reason: string | null;
  failing_since: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** One row per (event, subscription): the job, the request and its log (migrations/0005_webhooks.sql). */
export interface WebhookDeliveriesTable {
  workspace_id: string;
  id: string;
  subscription_id: string;
  event: string;
  /** bigint identity: global order of creation. */
  seq: ColumnType<number, never, never>;
  order_key: string | null;
  body: string;
  created_at: Timestamp;
  execution_status: Generated<string>;
  attempt_count: Generated<number>;
  http_status_code: number | null;
  next_attempt_at: NullableTimestamp;
  lease_owner: string | null;
  attempts: Json;
  redelivery_of: string | null;
  updated_at: Timestamp;
}
