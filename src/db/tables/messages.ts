import type { ColumnType, Generated } from 'kysely';
import type { Json, JsonRequired, NullableTimestamp, TextArray, Timestamp } from './column-types.ts';

/**
 * A contact as a message stores it (`receiver.contacts[]` of an outgoing message, `sender.contact` of
 * an incoming one): Bird's shape, with the identifier resolved for the channel's platform at accept time.
 */
export interface MessageContact {
  id: string;
  identifierKey: string;
  identifierValue: string;
  type?: 'to' | 'cc' | 'bcc';
  countryCode?: string;
  platformAddress?: string;
  platformAddressSelector?: string;
  annotations?: Record<string, unknown>;
}

/** The channel side of a message: Bird's `{connector: {id, identifierValue}}`. */
export interface MessageConnector {
  id: string;
  identifierValue: string;
  annotations?: Record<string, unknown>;
}

/** Bird's `sender` / `receiver`: the contacts on one side, the channel's connector on the other. */
export interface MessageParty {
  contacts?: MessageContact[];
  contact?: MessageContact;
  connector?: MessageConnector;
}

type PartyColumn = ColumnType<MessageParty, string, string>;

// A message row is also the dispatcher's job (next_attempt_at, attempts, lease_*): see src/dispatch/.
export interface MessagesTable {
  workspace_id: string;
  id: string;
  channel_id: string;
  platform: string;
  direction: string;
  status: string;
  sender: PartyColumn;
  receiver: PartyColumn;
  body: Json;
  template: Json;
  meta: Json;
  reference: string | null;
  reply_to: Json;
  tags: TextArray;
  short_links: Json;
  scheduled_for: ColumnType<Date | null, Date | null | undefined, Date | null>;
  validity: number | null;
  notification_url: string | null;
  options: Json;
  batch_id: string | null;
  navigator_id: string | null;
  from_identifier: string | null;
  to_identifiers: TextArray;
  country_codes: TextArray;
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
  next_attempt_at: NullableTimestamp;
  attempts: Generated<number>;
  lease_owner: string | null;
  lease_expires_at: NullableTimestamp;
  platform_reference: string | null;
  /** Multi-receiver SMS: what each receiver's submission and receipt came to (docs/lifecycle.md). */
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

/** What a provider reports later (receipts, replies), due at a moment: claimed like messages. */
export interface ConnectorEventsTable {
  workspace_id: string;
  id: string;
  channel_id: string;
  message_id: string | null;
  kind: string;
  payload: JsonRequired;
  due_at: Timestamp;
  lease_owner: string | null;
  lease_expires_at: NullableTimestamp;
  correlation: string | null;
}

export interface MessagePartsTable {
  workspace_id: string;
  channel_id: string;
  platform_reference: string;
  message_id: string;
  part_index: number;
  part_count: number;
  receiver: number | null;
  receipt_status: string | null;
  receipt_at: NullableTimestamp;
}

export interface ConnectorSessionsTable {
  workspace_id: string;
  channel_id: string;
  owner: string;
  expires_at: Timestamp;
}

export interface InteractionsTable {
  workspace_id: string;
  id: string;
  channel_id: string;
  message_id: string;
  type: string;
  platform_id: string;
  message_reference: Generated<string>;
  message_parts_count: Generated<number>;
  message_tags: ColumnType<string[] | null, string[] | null | undefined, string[] | null>;
  /** Bird's `receiver`: {"contacts": [the contact who interacted]}. */
  receiver: JsonRequired;
  details: string | null;
  metadata: ColumnType<unknown, string | null | undefined, string | null>;
  created_at: Timestamp;
}
