import type { ProviderEvent } from '../connectors/connector.ts';
import { insertReports, reportWriter, type ReportRow } from '../connectors/reports.ts';
import { isConnectionLost } from '../db/connection-loss.ts';
import type { Db } from '../db/database.ts';
import { GroupCommit } from '../db/group-commit.ts';
import type { Outbox } from '../webhooks/emit.ts';
import type { ConnectorEventRow } from './claim.ts';
import { applyProviderEvents, type SendsInBatch } from './provider-events.ts';

// Receipts from a live session (an SMPP deliver_sm) are applied in the transaction that makes them
// durable, before the session acknowledges them: the part, the message's status, its history and its
// webhooks in one group commit, instead of a connector_events row written now, claimed by the events
// loop, applied and deleted later (three more row writes and two more transactions per message: a third
// of what an SMPP message cost PostgreSQL). What cannot be applied yet still goes through
// connector_events: a receipt that overtook the recording of its send (retried from there), and
// inbound messages (their parts wait for one another, and their channel must be loaded outside the
// transaction). Acknowledged still means committed, by either road.
//
// One batch at a time per process: two concurrent transactions could each settle one part of a
// two-part message and neither see the other's, leaving it `sent` under the 'all' rule. Receipts
// that ride with their send's outcome (outcomes.ts) are written by the outcome writer, beside these
// batches, and keep that rule all the same: a receipt rides only while its send is still queued, so
// the other parts' receipts either ride in the same batch or wait for its commit. A batch that
// fails (a deadlock with the outcome writer, say) is not lost either: its rows are written as plain
// connector_events for the events loop, as before.

const applies = (r: ReportRow) => r.kind === 'receipt' || r.kind === 'status';

/** Receipts as reported (`rows`) and those of them to apply, their payloads parsed. */
export interface ReportBatch {
  rows: ReportRow[];
  events: ConnectorEventRow[];
}

/**
 * Hands receipts to the send being recorded, to be applied in its transaction, right after it
 * (outcomes.ts): the promise settles with that commit. Null when that transaction has begun already.
 */
export type Ride = (batch: ReportBatch) => Promise<unknown> | null;

export interface SessionReportWriter {
  submit(rows: ReportRow[]): Promise<void>;
  /** The send of these references is being recorded until `committed` settles: their receipts wait for it, or `ride` with it. */
  recording(workspaceId: string, channelId: string, references: string[], committed: Promise<unknown>, ride?: Ride): void;
  drain(): Promise<void>;
}

/**
 * Applies report batches in `trx`: receipts and statuses now, what cannot be applied yet (inbound
 * messages, a receipt whose send is not recorded) written to connector_events for the events loop.
 * `sends`: the sends these reports rode with (provider-events.ts). Returns whether anything was
 * written for the events loop (it then has work to wake to).
 */
export async function applyReportBatches(trx: Db, outbox: Outbox, batches: ReportBatch[], now: Date, sends?: SendsInBatch): Promise<boolean> {
  const rows = batches.flatMap((b) => b.rows);
  const later = await applyProviderEvents(trx, outbox, new Map(), batches.flatMap((b) => b.events), now, sends);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const park: ReportRow[] = [
    ...rows.filter((r) => !applies(r)),
    // Keeps its id, whose time says how long it has waited (receipts.ts RECEIPT_WAIT_MS).
    ...later.map(({ event: e, dueAt }) => ({ ...byId.get(e.id)!, due_at: dueAt })),
  ];
  await insertReports(trx, park, { notify: park.length > 0 });
  return park.length > 0;
}

export function sessionReportWriter(db: Db, outbox: Outbox, now: () => Date, afterCommit: () => void): SessionReportWriter {
  const parked = reportWriter(db, afterCommit);
  // An SMSC often sends the receipt right behind the submit response, before the send's outcome (and
  // with it the part the receipt names) is committed: such a receipt would be parked, then claimed,
  // matched and deleted by the events loop (bench smpp-drain: a receipt batch in six parked). It rides
  // with the send instead while the send is still queued, or waits for that commit, a few
  // milliseconds, and is applied directly. Only sends this process is recording are known here; a
  // receipt for one recorded elsewhere still takes the parked road.
  const inRecording = new Map<string, { committed: Promise<unknown>; ride?: Ride }>();
  // Resolves when the batch may be applied; or at once with `riding`, the commit it rode with (wrapped:
  // an async function's promise would wait for the one it returns).
  const waitForRecordings = async ({ rows, events }: ReportBatch): Promise<{ riding?: Promise<unknown> }> => {
    // The submit response and the receipt may arrive in one read from the socket, the receipt handled
    // before the send's continuation registers its references: those run first (microtasks).
    await new Promise((r) => setImmediate(r));
    const pending = new Set<{ committed: Promise<unknown>; ride?: Ride }>();
    let receipts = 0;
    for (const e of events) {
      const event = e.payload as ProviderEvent;
      if (event.kind !== 'receipt') continue;
      receipts++;
      const recording = inRecording.get(`${e.workspace_id}:${e.channel_id}:${event.reference}`);
      if (recording) pending.add(recording);
    }
    // Receipts that all name one send still queued to be recorded (the SMSC's receipt right behind
    // its submit response, as most are) ride with it: one transaction for both, instead of a second
    // one after the first commits (bench smpp-pipeline: as many receipt batches as outcome batches).
    const [only] = pending;
    if (pending.size === 1 && receipts === rows.length) {
      const riding = only.ride?.({ rows, events });
      if (riding) return { riding };
    }
    if (pending.size) await Promise.allSettled([...pending].map((p) => p.committed));
    return {};
  };
  // A batch: the rows as reported, and those it applies with their payloads parsed (once, in submit).
  // Each batch says whether it parked anything: only then is there work for the events loop to wake to.
  const direct = new GroupCommit<ReportBatch, boolean>(
    db,
    async (trx, batches) => {
      const parkedAny = await applyReportBatches(trx, outbox, batches, now());
      return batches.map(() => parkedAny);
    },
    { maxConcurrent: 1, maxBatch: 500, afterCommit: (_, parkedAny) => parkedAny[0] && afterCommit() },
  );
  const orPark = (rows: ReportRow[]) => (err: unknown) => {
    if (isConnectionLost(err)) throw err;
    return parked.submit(rows);
  };
  return {
    submit: async (rows) => {
      const events: ConnectorEventRow[] = rows.filter(applies).map((r) => ({ ...r, payload: JSON.parse(r.payload) as ProviderEvent }));
      // (Whether a send is being recorded is known only after a turn: see waitForRecordings.)
      const { riding } = events.some((e) => (e.payload as ProviderEvent).kind === 'receipt') ? await waitForRecordings({ rows, events }) : {};
      if (riding) return riding.then(() => undefined, orPark(rows));
      return direct.submit({ rows, events }).then(() => undefined, orPark(rows));
    },
    recording: (workspaceId, channelId, references, committed, ride) => {
      const keys = references.map((ref) => `${workspaceId}:${channelId}:${ref}`);
      const recording = { committed, ride };
      for (const k of keys) inRecording.set(k, recording);
      const forget = () => { for (const k of keys) if (inRecording.get(k) === recording) inRecording.delete(k); };
      committed.then(forget, forget);
    },
    drain: async () => {
      await direct.drain();
      await parked.drain();
    },
  };
}
