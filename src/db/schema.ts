import type { Insertable, Selectable } from 'kysely';
import type { ChannelContactsTable, ChannelsTable } from './tables/channels.ts';
import type { ContactIdentifiersTable, ContactsTable, ListMembersTable, ListsTable, SuppressionsTable } from './tables/contacts.ts';
import type { MediaSigningKeysTable, MediaTable } from './tables/media.ts';
import type { ConnectorEventsTable, ConnectorSessionsTable, InteractionsTable, MessagePartsTable, MessagesTable, MessageStatusHistoryTable } from './tables/messages.ts';
import type { SandboxChaosTable } from './tables/sandbox.ts';
import type { AccessKeysTable, MigrationsTable, OrganizationsTable, WorkspacesTable } from './tables/tenancy.ts';
import type { TemplateProjectsTable, TemplateVersionsTable } from './tables/templates.ts';
import type { WebhookDeliveriesTable, WebhookSubscriptionsTable } from './tables/webhooks.ts';

// Kysely's view of every table in migrations/, composed from one file per feature under tables/
// (they live in db/ rather than in the features so that db/ imports nothing above it). Columns with
// database defaults are Generated. test/schema.test.ts compares this with information_schema.
export interface DB {
  aviary_migrations: MigrationsTable;
  organizations: OrganizationsTable;
  workspaces: WorkspacesTable;
  access_keys: AccessKeysTable;
  channels: ChannelsTable;
  channel_contacts: ChannelContactsTable;
  contacts: ContactsTable;
  contact_identifiers: ContactIdentifiersTable;
  suppressions: SuppressionsTable;
  lists: ListsTable;
  list_members: ListMembersTable;
  messages: MessagesTable;
  message_status_history: MessageStatusHistoryTable;
  connector_events: ConnectorEventsTable;
  message_parts: MessagePartsTable;
  connector_sessions: ConnectorSessionsTable;
  interactions: InteractionsTable;
  template_projects: TemplateProjectsTable;
  template_versions: TemplateVersionsTable;
  webhook_subscriptions: WebhookSubscriptionsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  media: MediaTable;
  media_signing_keys: MediaSigningKeysTable;
  sandbox_chaos: SandboxChaosTable;
}

// Every table and column of DB as values, so a test can compare them with the migrated store. The
// type below fails to compile when a column is missing here or named here but not in DB.
type Columns<T> = { [K in keyof T]-?: true };
const columns = <T>(c: Columns<T>) => Object.keys(c);
export const DB_COLUMNS: { [T in keyof DB]: string[] } = {
  aviary_migrations: columns<MigrationsTable>({ name: true, applied_at: true }),
  organizations: columns<OrganizationsTable>({ id: true, name: true, created_at: true }),
  workspaces: columns<WorkspacesTable>({
    id: true, organization_id: true, name: true, description: true, status: true, data_policy: true, configuration: true,
    created_at: true, updated_at: true,
  }),
  access_keys: columns<AccessKeysTable>({
    id: true, organization_id: true, workspace_id: true, name: true, prefix: true, key_hash: true, created_at: true, revoked_at: true,
  }),
  channels: columns<ChannelsTable>({
    workspace_id: true, id: true, platform: true, platform_id: true, name: true, status: true, sender_identifier: true,
    connector_id: true, connector_type: true, connector_config: true, settings: true, created_at: true, updated_at: true,
  }),
  channel_contacts: columns<ChannelContactsTable>({ workspace_id: true, channel_id: true, contact_id: true, last_inbound_at: true, metadata: true }),
  contacts: columns<ContactsTable>({ workspace_id: true, id: true, display_name: true, attributes: true, created_at: true, updated_at: true }),
  contact_identifiers: columns<ContactIdentifiersTable>({
    workspace_id: true, identifier_key: true, identifier_value: true, contact_id: true, created_at: true, properties: true,
  }),
  lists: columns<ListsTable>({
    workspace_id: true, id: true, name: true, description: true, consent_type: true, tags: true, is_proof: true,
    contact_count: true, counter_updated_at: true, created_at: true, updated_at: true,
  }),
  list_members: columns<ListMembersTable>({ workspace_id: true, list_id: true, contact_id: true, created_at: true }),
  suppressions: columns<SuppressionsTable>({ workspace_id: true, identifier_key: true, identifier_value: true, reason: true, created_at: true }),
  messages: columns<MessagesTable>({
    workspace_id: true, id: true, channel_id: true, platform: true, direction: true, status: true, sender: true, receiver: true,
    body: true, template: true, meta: true, reference: true, reply_to: true, tags: true, short_links: true, scheduled_for: true,
    validity: true, notification_url: true, options: true, batch_id: true, navigator_id: true, from_identifier: true,
    to_identifiers: true, country_codes: true, email_subject: true, reason: true, details: true, failure: true, failure_code: true,
    failure_source_code: true, failure_source_name: true, parts: true, chargeable_units: true, origin: true, created_at: true,
    updated_at: true, last_status_at: true, next_attempt_at: true, attempts: true, lease_owner: true, lease_expires_at: true,
    platform_reference: true, receiver_outcomes: true,
  }),
  message_status_history: columns<MessageStatusHistoryTable>({
    workspace_id: true, message_id: true, seq: true, status: true, at: true, reason: true, failure: true,
  }),
  connector_events: columns<ConnectorEventsTable>({
    workspace_id: true, id: true, channel_id: true, message_id: true, kind: true, payload: true, due_at: true, lease_owner: true,
    lease_expires_at: true, correlation: true,
  }),
  message_parts: columns<MessagePartsTable>({
    workspace_id: true, channel_id: true, platform_reference: true, message_id: true, part_index: true, part_count: true, receiver: true, receipt_status: true,
    receipt_at: true,
  }),
  connector_sessions: columns<ConnectorSessionsTable>({ workspace_id: true, channel_id: true, owner: true, expires_at: true }),
  interactions: columns<InteractionsTable>({
    workspace_id: true, id: true, channel_id: true, message_id: true, type: true, platform_id: true, message_reference: true,
    message_parts_count: true, message_tags: true, receiver: true, details: true, metadata: true, created_at: true,
  }),
  template_projects: columns<TemplateProjectsTable>({
    workspace_id: true, id: true, name: true, description: true, type: true, version_count: true, created_at: true, updated_at: true,
  }),
  template_versions: columns<TemplateVersionsTable>({
    workspace_id: true, id: true, project_id: true, number: true, status: true, description: true, default_locale: true,
    supported_platforms: true, locales: true, variables: true, generic_content: true, platform_content: true, deployments: true,
    approvals: true, activated_at: true, created_at: true, updated_at: true,
  }),
  webhook_subscriptions: columns<WebhookSubscriptionsTable>({
    workspace_id: true, id: true, organization_id: true, service: true, event: true, event_filters: true, filter_signature: true,
    filter_channel_id: true, filter_statuses: true, filter_interaction_types: true, filter_platform_ids: true, template: true,
    url: true, signing_key: true, standard_webhooks: true, status: true, status_reason: true, failing_since: true,
    created_at: true, updated_at: true,
  }),
  webhook_deliveries: columns<WebhookDeliveriesTable>({
    workspace_id: true, id: true, subscription_id: true, event: true, seq: true, order_key: true, body: true, created_at: true,
    execution_status: true, attempt_count: true, http_status_code: true, next_attempt_at: true, lease_owner: true, attempts: true,
    redelivery_of: true, updated_at: true,
  }),
  media: columns<MediaTable>({
    workspace_id: true, id: true, origin: true, channel_id: true, message_id: true, status: true, storage: true, object_key: true,
    content_type: true, max_bytes: true, size: true, filename: true, source_url: true, expires_at: true, created_at: true,
    claimed_at: true, stored_at: true,
  }),
  media_signing_keys: columns<MediaSigningKeysTable>({ id: true, secret: true, created_at: true }),
  sandbox_chaos: columns<SandboxChaosTable>({ workspace_id: true, seed: true, rules: true, updated_at: true }),
};

export type ChannelRow = Selectable<ChannelsTable>;
export type MessageRow = Selectable<MessagesTable>;
export type NewMessage = Insertable<MessagesTable>;
export type * from './tables/channels.ts';
export type * from './tables/contacts.ts';
export type * from './tables/media.ts';
export type * from './tables/messages.ts';
export type * from './tables/sandbox.ts';
export type * from './tables/tenancy.ts';
export type * from './tables/templates.ts';
export type * from './tables/webhooks.ts';
