-- Due messages by channel (src/dispatch/claim.ts). The dispatcher passes by channels that already
-- hold their share of claimed messages; with one global due index ordered by time, a claim then walked
-- past every due row of such a channel to reach the others' (0.6 s per claim with 1,000,000 messages
-- waiting on one channel: that channel drained at 51/s instead of its window's 200/s). Keyed by
-- channel, a claim visits each channel with pending work once (a skip scan) and reads only the rows it
-- takes. The trade-off: a claim costs one index probe per channel with pending work (microseconds
-- each), where the global index cost nothing per channel; both indexes together would only make the
-- planner pick the wrong one, so the global one goes.
drop index messages_due;
create index messages_due_by_channel on messages (workspace_id, channel_id, next_attempt_at) where next_attempt_at is not null;
