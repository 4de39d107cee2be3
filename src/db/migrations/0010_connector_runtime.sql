-- The connector runtime (issue 11).

-- The provider's reference of every part of a message sent through a connector whose receipts name
-- the reference rather than the message (SMPP's message_id, an email's Message-ID). A receipt finds
-- its part here by (channel, reference) and is applied once: receipt_status records the part's last
-- reported state, and a duplicate or late receipt finds it already final. The primary key lets an
-- SMSC that reuses ids after a restart overwrite the old part (the newest send wins), rather than
-- fail the recording of a send.
create table message_parts (
  workspace_id uuid not null,
  channel_id uuid not null,
  platform_reference text not null,
  message_id uuid not null,
  part_index integer not null,
  part_count integer not null,
  -- Which receiver of a message sent receiver by receiver (an SMS to several numbers); else null.
  receiver integer,
  receipt_status text,
  receipt_at timestamptz,
  primary key (workspace_id, channel_id, platform_reference)
);
create index message_parts_message on message_parts (workspace_id, message_id);

-- Pieces of one inbound message that the provider split (a concatenated SMS) share a correlation
-- key; they wait in connector_events until all have arrived and are stored as one message.
alter table connector_events add column correlation text;
create index connector_events_correlation on connector_events (workspace_id, channel_id, correlation) where correlation is not null;

-- Channels that allow one session cluster-wide (an SMSC that grants a fixed number of binds): the
-- process holding the lease holds the session and renews it; the others leave the channel's
-- messages alone until the lease lapses.
create table connector_sessions (
  workspace_id uuid not null,
  channel_id uuid not null,
  owner text not null,
  expires_at timestamptz not null,
  primary key (workspace_id, channel_id)
);
