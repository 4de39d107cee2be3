-- The web inbox's live feed (src/inbox/live.ts): every status a message takes, incoming messages
-- included, is a row of message_status_history, so "what changed in this workspace since seq N" is
-- a range scan here. Rows are appended with ever larger seq, so this index grows at its right edge:
-- one more btree insert per status change, the price of updates that reach the inbox from any process
-- on the same PostgreSQL without a NOTIFY on the hot path.
create index message_status_history_feed on message_status_history (workspace_id, seq);
