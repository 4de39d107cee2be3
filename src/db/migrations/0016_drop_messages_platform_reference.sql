-- No query reads messages by platform_reference: receipts and replies find their message through
-- message_parts (src/dispatch/receipts.ts, inbound-events.ts), keyed by the same reference. The index
-- still cost an entry on every inbound insert and on every update of a sent message that is not HOT
-- (the send's own update among them), for nothing. The column stays: the API and interactions read it.
drop index messages_platform_reference;
