import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import { uuidv7Floor } from '../webhooks/deliveries.ts';
import { messagesByIds, withTimelines } from './timeline.ts';

// The inbox's live updates: server-sent events over a fetch (the page sends its key in a header;
// EventSource could only put it in the URL). Each stream polls the store for what changed in its
// workspace since its cursor: message_status_history by seq (every status a message takes, new
// incoming messages included) and interactions by id (UUIDv7, time-ordered). Both are index range
// reads that find nothing most of the time, so polling every POLL_MS is cheap, and it sees writes of
// every process on the same PostgreSQL without a NOTIFY on the send path.
//
// A keyset cursor alone would miss a row whose transaction took its seq (or id) before a row already
// seen but committed after it. So each poll reads again from where the cursor stood LOOKBACK_MS ago
// and skips the rows it has already sent: a transaction slower than that to commit is the only thing
// that can be missed (and a reload shows it).

export const POLL_MS = 250;
const LOOKBACK_MS = 3_000;
const HEARTBEAT_MS = 15_000;
/** More changed messages than this in one poll: the page is told to reload its view instead. */
const MAX_ITEMS = 200;

interface Cursor {
  at: number;
  seq: number;
}

export class FeedCursor {
  private readonly marks: Cursor[] = [];
  private readonly seenSeq = new Set<number>();
  private readonly seenInteractions = new Set<string>();
  private floorSeq: number;
  private readonly startedAt: number;

  constructor(startSeq: number, now: number) {
    this.floorSeq = startSeq;
    this.startedAt = now;
    this.marks.push({ at: now, seq: startSeq });
  }

  /** Where this poll reads from: the highest seq seen at least LOOKBACK_MS ago. */
  seqFloor(now: number): number {
    while (this.marks.length > 1 && now - this.marks[1].at >= LOOKBACK_MS) this.marks.shift();
    const floor = this.marks[0].seq;
    if (floor > this.floorSeq) {
      for (const s of this.seenSeq) if (s <= floor) this.seenSeq.delete(s);
      this.floorSeq = floor;
    }
    return floor;
  }

  interactionFloor(now: number): string {
    return uuidv7Floor(new Date(Math.max(this.startedAt, now - LOOKBACK_MS)));
  }

  /** The rows of one poll; returns the message ids not seen before. */
  take(now: number, statuses: { seq: number; message_id: string }[], interactions: { id: string; message_id: string }[]): string[] {
    const changed = new Set<string>();
    let max = this.marks[this.marks.length - 1].seq;
    for (const s of statuses) {
      const seq = Number(s.seq);
      if (this.seenSeq.has(seq)) continue;
      this.seenSeq.add(seq);
      changed.add(s.message_id);
      if (seq > max) max = seq;
    }
    this.marks.push({ at: now, seq: max });
    const floor = this.interactionFloor(now);
    for (const id of this.seenInteractions) if (id <= floor) this.seenInteractions.delete(id);
    for (const i of interactions) {
      if (this.seenInteractions.has(i.id)) continue;
      this.seenInteractions.add(i.id);
      changed.add(i.message_id);
    }
    return [...changed];
  }
}

async function latestSeq(db: Db, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('message_status_history')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  return Number(row?.seq ?? 0);
}

/** One poll: the messages that changed, with their timelines; null when there are too many to send. */
export async function pollChanges(db: Db, workspaceId: string, cursor: FeedCursor, now = Date.now()) {
  const [statuses, interactions] = await Promise.all([
    db
      .selectFrom('message_status_history')
      .select(['seq', 'message_id'])
      .where('workspace_id', '=', workspaceId)
      .where('seq', '>', cursor.seqFloor(now))
      .orderBy('seq')
      .limit(MAX_ITEMS * 5)
      .execute(),
    db
      .selectFrom('interactions')
      .select(['id', 'message_id'])
      .where('workspace_id', '=', workspaceId)
      .where('id', '>', cursor.interactionFloor(now))
      .orderBy('id')
      .limit(MAX_ITEMS * 5)
      .execute(),
  ]);
  const ids = cursor.take(now, statuses, interactions);
  if (ids.length === 0) return [];
  if (ids.length > MAX_ITEMS || statuses.length === MAX_ITEMS * 5 || interactions.length === MAX_ITEMS * 5) return null;
  return withTimelines(db, workspaceId, await messagesByIds(db, workspaceId, ids));
}

/** Open streams, so that shutdown can end them rather than wait for the browser to leave. */
export class LiveStreams {
  private readonly open = new Set<() => void>();

  async serve(db: Db, workspaceId: string, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const cursor = new FeedCursor(await latestSeq(db, workspaceId), Date.now());
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('ready', { pollMs: POLL_MS });
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let lastWrite = Date.now();
    const stop = () => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      this.open.delete(stop);
      res.end();
    };
    this.open.add(stop);
    request.raw.once('close', stop);
    res.once('close', stop);
    const tick = async () => {
      if (stopped) return;
      try {
        const items = await pollChanges(db, workspaceId, cursor);
        if (stopped) return;
        if (items === null) send('resync', {});
        else if (items.length) send('messages', items);
        else if (Date.now() - lastWrite > HEARTBEAT_MS) res.write(': keep-alive\n\n');
        else return schedule();
        lastWrite = Date.now();
      } catch (err) {
        // The store is away (restart, outage): say so and keep trying; the page shows it.
        request.log.warn({ err: (err as Error).message }, 'inbox live feed: poll failed');
        if (!stopped) send('error', { message: 'The store did not answer; retrying' });
      }
      schedule();
    };
    const schedule = () => {
      if (!stopped) timer = setTimeout(() => void tick(), POLL_MS);
    };
    schedule();
  }

  closeAll(): void {
    for (const stop of [...this.open]) stop();
  }
}
