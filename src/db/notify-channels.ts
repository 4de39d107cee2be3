// PostgreSQL NOTIFY channels, one per kind of work, so a wake-up reaches only the loops that have
// work: a committed message does not wake webhook workers, a written delivery does not wake the
// dispatcher. Writers notify in the transaction that creates the work (delivered on commit).

/** New or rescheduled messages: dispatchers LISTEN on it. */
export const WORK_CHANNEL = 'aviary_work';
/** Provider events (receipts, replies) written for later: dispatchers' events loops LISTEN on it. */
export const EVENTS_CHANNEL = 'aviary_events';
/** New webhook deliveries: webhook workers LISTEN on it. */
export const WEBHOOK_CHANNEL = 'aviary_webhooks';
