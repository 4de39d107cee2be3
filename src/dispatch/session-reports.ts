import type { ProviderEvent } from '../connectors/connector.ts';
import { insertReports, reportWriter, type ReportRow } from '../connectors/reports.ts';
import { isConnectionLost } from '../db/connection-loss.ts';
import type { Db } from '../db/database.ts';
import { GroupCommit } from '../db/group-commit.ts';
import type { Outbox } from '../webhooks/emit.ts';
import type { ConnectorEventRow } from './claim.ts';
import { applyProviderEvents } from './provider-events.ts';

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
// two-part message and neither see the other's, leaving it `sent` under the 'all' rule. A batch that
// fails (a deadlock with the outcome writer, say) is not lost either: its rows are written as plain
// connector_events for the events loop, as before.

const applies = (r: ReportRow) => r.kind === 'receipt' || r.kind === 'status';

export interface SessionReportWriter {
  submit(rows: ReportRow[]): Promise<void>;
  /** The send of these references is being recorded until `committed` settles: their receipts wait for it. */
  recording(workspaceId: string, channelId: string, references: string[], committed: Promise<unknown>): void;
  drain(): Promise<void>;
}

export function sessionReportWriter(db: Db, outbox: Outbox, now: () => Date, afterCommit: () => void): SessionReportWriter {
  const parked = reportWriter(db, afterCommit);
  // An SMSC often sends the receipt right behind the submit response, before the send's outcome (and
  // with it the part the receipt names) is committed: such a receipt would be parked, then claimed,
  // matched and deleted by the events loop (bench smpp-drain: a receipt batch in six parked). It waits
  // for that commit instead, a few milliseconds, and is applied directly. Only sends this process is
  // recording are known here; a receipt for one recorded elsewhere still takes the parked road.
  const inRecording = new Map<string, Promise<unknown>>();
  const waitForRecordings = async (events: ConnectorEventRow[]) => {
    // The submit response and the receipt may arrive in one read from the socket, the receipt handled
    // before the send's continuation registers its references: those run first (microtasks).
    await new Promise((r) => setImmediate(r));
    const waits: Promise<unknown>[] = [];
    for (const e of events) {
      const event = e.payload as ProviderEvent;
      if (event.kind !== 'receipt') continue;
      const pending = inRecording.get(`${e.workspace_id}:${e.channel_id}:${event.reference}`);
      if (pending) waits.push(pending);
    }
    if (waits.length) await Promise.allSettled(waits);
  };
  // A batch: the rows as reported, and those it applies with their payloads parsed (once, in submit).
  // Each batch says whether it parked anything: only then is there work for the events loop to wake to.
  const direct = new GroupCommit<{ rows: ReportRow[]; events: ConnectorEventRow[] }, boolean>(
    db,
    async (trx, batches) => {
      const rows = batches.flatMap((b) => b.rows);
      const later = await applyProviderEvents(trx, outbox, new Map(), batches.flatMap((b) => b.events), now());
      const byId = new Map(rows.map((r) => [r.id, r]));
      const park: ReportRow[] = [
        ...rows.filter((r) => !applies(r)),
        // Keeps its id, whose time says how long it has waited (receipts.ts RECEIPT_WAIT_MS).
        ...later.map(({ event: e, dueAt }) => ({ ...byId.get(e.id)!, due_at: dueAt })),
      ];
      await insertReports(trx, park, { notify: park.length > 0 });
      return batches.map(() => park.length > 0);
    },
    { maxConcurrent: 1, maxBatch: 500, afterCommit: (_, parkedAny) => parkedAny[0] && afterCommit() },
  );
  return {
    submit: async (rows) => {
      const events: ConnectorEventRow[] = rows.filter(applies).map((r) => ({ ...r, payload: JSON.parse(r.payload) as ProviderEvent }));
      if (inRecording.size > 0) await waitForRecordings(events);
      return direct.submit({ rows, events }).then(
        () => undefined,
        (err) => {
          if (isConnectionLost(err)) throw err;
          return parked.submit(rows);
        },
      );
    },
    recording: (workspaceId, channelId, references, committed) => {
      const keys = references.map((ref) => `${workspaceId}:${channelId}:${ref}`);
      for (const k of keys) inRecording.set(k, committed);
      const forget = () => { for (const k of keys) if (inRecording.get(k) === committed) inRecording.delete(k); };
      committed.then(forget, forget);
    },
    drain: async () => {
      await direct.drain();
      await parked.drain();
    },
  };
}
