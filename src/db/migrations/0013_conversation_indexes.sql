-- The inbox's conversation view and its receiver filter (src/inbox/search.ts): "messages from or to
-- this contact". Without these the query walks a channel's messages newest first until it has a page,
-- which on a channel of 700,000 messages and a contact with 70 of them is the whole channel (seconds;
-- bench/inbox.ts). With them it is a BitmapOr of the contact's own rows, then a sort of that handful.
-- Partial by direction: incoming rows are found by sender, outgoing by any receiver (GIN, since an
-- outgoing message may have several). The channel's own sender number, on every outgoing row, is
-- left out of both, so no key is hot. The cost is two index inserts per message written and nothing
-- per status change: the indexed columns never change after the insert, so status updates stay HOT.
create index messages_from_contact on messages (workspace_id, lower(from_identifier)) where direction = 'incoming';
create index messages_to_contact on messages using gin (to_identifiers) where direction = 'outgoing';
