import type { Connector, OutboundMessage, SendResult } from '../connectors/connector.ts';
import { insertReports, reportRow, type ReportRow } from '../connectors/reports.ts';
import { GroupCommit } from '../db/group-commit.ts';
import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';
import { applyTransitions, reschedule, type Transition } from '../messages/status-writer.ts';
import type { Outbox } from '../webhooks/emit.ts';
import { chosenReceipts, recordParts, type PartRecord } from './receipts.ts';
import type { ReceiverOutcomes } from './receivers.ts';
import { applyReportBatches, type ReportBatch } from './session-reports.ts';

// What a provider answered to a send, written down. Sends finish one by one, each on its own
// channel's session, so their outcomes are group-committed (db/group-commit.ts): whatever finished
// while the previous write was in flight is written by the next one, in one transaction of a few
// set-wise statements. A burst of fast sends costs a handful of commits; a lone slow send is written
// the moment it returns, never held back for others.

export interface Outcome {
  row: MessageRow;
  message: OutboundMessage;
  connector: Connector;
  result: SendResult;
  at: Date;
  /**
   * Receipts for this send that arrived before its batch began (session-reports.ts `Ride`): applied
   * in the same transaction, right after the send is recorded. `ridersClosed` once a batch has read them.
   */
  riders?: ReportBatch[];
  ridersClosed?: boolean;
}

export interface OutcomeRules {
  retryBaseMs: number;
  maxAttempts: number;
}

/** `reportsWritten`: after a commit that wrote reports for the events loop (the sandbox's receipts, receipts parked). */
export function outcomeWriter(db: Db, outbox: Outbox, rules: OutcomeRules, maxConcurrent: number, now: () => Date, reportsWritten: () => void): GroupCommit<Outcome, boolean> {
  // Each item's output: whether its batch wrote anything for the events loop.
  return new GroupCommit<Outcome, boolean>(db, async (trx, items) => {
    const riding = items.flatMap((i) => {
      i.ridersClosed = true;
      return i.riders ?? [];
    });
    const forEventsLoop = await recordOutcomes(trx, outbox, items, rules, riding, now());
    return items.map(() => forEventsLoop);
  }, {
    maxConcurrent,
    maxBatch: 500,
    afterCommit: (_, forEventsLoop) => {
      if (forEventsLoop[0]) reportsWritten();
    },
  });
}

/**
 * Turns send results into status changes, retries, part references and scheduled reports, and writes
 * them, with `riding` (receipts that came while these sends were queued) and the reports due at once
 * (a sandbox receipt with no delay): written for the events loop, each of those would cost an insert,
 * a claim, a delete and a transaction of its own. A send and its receipt applied here move the message
 * in one update (status-writer.ts `next`). Returns whether anything was written for the events loop
 * (reports scheduled for later, receipts parked).
 */
export async function recordOutcomes(trx: Db, outbox: Outbox, items: Outcome[], rules: OutcomeRules, riding: ReportBatch[], now: Date): Promise<boolean> {
  const transitions: Transition[] = [];
  const retries: Parameters<typeof reschedule>[1] = [];
  const followUps: ReportRow[] = [];
  const dueNow: ReportBatch[] = [];
  const parts: PartRecord[] = [];
  for (const { row, message, connector, result: r, at } of items) {
    const base = { workspaceId: row.workspace_id, messageId: row.id, at, from: ['processing'] };
    if (r.ok) {
      transitions.push({
        ...base,
        status: 'sent',
        parts: r.parts,
        platformReference: r.parts[0]?.platformReference,
        chargeableUnits: r.chargeableUnits,
        ...receiverOutcomesOf(r),
        attempts: message.attempt,
        nextAttemptAt: null,
      });
      for (const f of r.followUps ?? []) {
        const report = { ...reportRow(message.channel, f.event, new Date(at.getTime() + f.afterMs), at), message_id: f.event.kind === 'status' ? f.event.messageId : row.id };
        if (f.afterMs <= 0 && f.event.kind === 'status') dueNow.push({ rows: [report], events: [{ ...report, payload: f.event }] });
        else followUps.push(report);
      }
      if (connector.receiptsByReference) {
        parts.push({ workspaceId: row.workspace_id, channelId: row.channel_id, messageId: row.id, references: r.parts.map((p) => p.platformReference), receivers: (r as { partReceivers?: number[] }).partReceivers });
      }
    } else if (r.throttled) {
      // The provider asked to slow down (or the send never left: see Sessions.send): not a failed
      // attempt, the message just waits its turn.
      retries.push({ workspaceId: row.workspace_id, messageId: row.id, nextAttemptAt: new Date(at.getTime() + (r.retryAfterMs ?? 1000)), attempts: message.attempt - 1, reason: r.reason ?? 'throttled' });
    } else if (r.retryable && message.attempt < rules.maxAttempts) {
      const backoff = Math.min(rules.retryBaseMs * 2 ** (message.attempt - 1), 10 * 60_000);
      retries.push({
        workspaceId: row.workspace_id,
        messageId: row.id,
        nextAttemptAt: new Date(at.getTime() + Math.max(backoff, r.retryAfterMs ?? 0)),
        attempts: message.attempt,
        reason: r.reason ?? r.failure.description,
      });
    } else {
      transitions.push({
        ...base,
        status: 'sending_failed',
        failure: r.failure,
        reason: r.reason ?? r.failure.description,
        details: r.details,
        attempts: message.attempt,
        nextAttemptAt: null,
      });
    }
  }
  await reschedule(trx, retries);
  // The parts the riding receipts name are written with them.
  const written = await recordParts(trx, parts, chosenReceipts(riding.flatMap((b) => b.events)), now);
  await insertReports(trx, followUps);
  const reports = [...dueNow, ...riding];
  if (reports.length === 0) {
    await applyTransitions(trx, outbox, transitions);
    return followUps.length > 0;
  }
  const parked = await applyReportBatches(trx, outbox, reports, now, { transitions, parts: written });
  return parked || followUps.length > 0;
}

/** What sendPerReceiver already knows about each receiver (nothing for a single-receiver send). */
function receiverOutcomesOf(r: SendResult & { outcomes?: ReceiverOutcomes }): { receiverOutcomes?: ReceiverOutcomes } {
  return r.ok && r.outcomes ? { receiverOutcomes: r.outcomes } : {};
}
