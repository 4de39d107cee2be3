import type { MessageRow } from '../db/schema.ts';
import type { ClaimedMessage, ClaimRoom } from './claim.ts';

// What one worker process holds claimed and not yet recorded, in all and per channel, and what its
// next claim may take of each channel (dispatcher.ts). In all it is bounded by maxInFlight, the memory
// bound whatever the backlog; per channel by a share of a few windows' worth, so that one slow
// channel cannot take the whole budget: the claim passes by channels that already hold their share.

/**
 * Messages a channel may hold claimed: two windows' worth, so its window stays full while the next
 * claim comes, and at least a small batch for a session not open yet; more would only wait in memory
 * (and near the end of their claim be handed back unsent, see Sessions.send). Never more than a
 * quarter of the process's budget, so a slow channel leaves room for the others. The trade-off: four
 * or more slow channels together can fill the budget, and the others then wait for their sends.
 */
const channelShare = (window: number | undefined, maxInFlight: number) => Math.min(Math.max(2 * (window ?? 0), 32), Math.max(1, Math.floor(maxInFlight / 4)));
/**
 * How much of its share a hungry channel must have free before a send recorded wakes a claim: an
 * eighth (25 of an SMPP window of 100's share of 200), so that a claim takes a batch rather than
 * one or two rows per send recorded, while the half of the share waiting for a slot keeps the window
 * full in between.
 */
const refillAt = (share: number) => Math.max(1, Math.floor(share / 8));
/** The channel of a `workspace:channel` key (perChannel, hungry). */
const channelIdOf = (key: string) => key.split(':')[1];
const keyOf = (row: MessageRow) => `${row.workspace_id}:${row.channel_id}`;

/** What the shares need to know of the sessions (dispatch/sessions.ts). */
export interface SessionWindows {
  windowOf(channel: { workspaceId: string; id: string }): number | undefined;
  openWindows(): Array<{ workspaceId: string; id: string; window: number }>;
  heldElsewhere(): string[];
}

export class ChannelShares {
  /** Claimed, not yet recorded: in all, and per channel (by `workspace:channel`). */
  inFlight = 0;
  private readonly perChannel = new Map<string, number>();
  /**
   * Channels that may have more due than this process holds: the last claim took all the room it
   * asked of them, or passed them by full. Once a channel has refillAt of its share free again, each
   * send recorded wakes a claim (wake-ups during a claim fold into one more round after it).
   */
  private readonly hungry = new Set<string>();

  constructor(
    private readonly sessions: SessionWindows,
    private readonly maxInFlight: number,
  ) {}

  /** Room left in all. */
  get free(): number {
    return this.maxInFlight - this.inFlight;
  }

  /**
   * What the next claim may take of each channel: nothing of those sent by another process or
   * holding their share, what is left of its share of any other.
   */
  claimRoom(): ClaimRoom {
    const skip = this.sessions.heldElsewhere();
    const room: ClaimRoom['room'] = [];
    for (const [key, n] of this.perChannel) {
      const [workspaceId, id] = key.split(':');
      const share = this.shareOf({ workspaceId, id });
      if (n >= share) {
        skip.push(id);
        this.hungry.add(key);
      } else room.push({ channelId: id, n: share - n });
    }
    for (const w of this.sessions.openWindows()) {
      if (!this.perChannel.has(`${w.workspaceId}:${w.id}`)) room.push({ channelId: w.id, n: channelShare(w.window, this.maxInFlight) });
    }
    return { skip, room, otherwise: channelShare(undefined, this.maxInFlight) };
  }

  /**
   * Splits a claim into what this process keeps and what is over a channel's share, and reserves the
   * kept rows' places at once, before any await: the other claim loops of this process must see them.
   */
  take(rows: ClaimedMessage[]): { claimed: ClaimedMessage[]; over: ClaimedMessage[] } {
    const claimed: ClaimedMessage[] = [];
    const over: ClaimedMessage[] = [];
    for (const r of rows) {
      const key = keyOf(r);
      const n = this.perChannel.get(key) ?? 0;
      if (n >= this.shareOf({ workspaceId: r.workspace_id, id: r.channel_id })) {
        over.push(r);
        continue;
      }
      this.perChannel.set(key, n + 1);
      this.inFlight++;
      claimed.push(r);
    }
    return { claimed, over };
  }

  /**
   * Which channels may have more due (see `hungry`): those the claim took all the room it asked of
   * (or more), not those it asked of and took less (their due backlog is drained).
   */
  noteAppetite(rooms: ClaimRoom, rows: ClaimedMessage[]): void {
    const asked = new Map(rooms.room.map((r) => [r.channelId, r.n]));
    const got = new Map<string, number>();
    for (const r of rows) got.set(keyOf(r), (got.get(keyOf(r)) ?? 0) + 1);
    for (const [key, n] of got) {
      if (n >= (asked.get(channelIdOf(key)) ?? rooms.otherwise)) this.hungry.add(key);
      else this.hungry.delete(key);
    }
    for (const key of this.hungry) if (!got.has(key) && asked.has(channelIdOf(key))) this.hungry.delete(key);
  }

  /** Whether a hungry channel has sends in flight here: their outcomes will wake the next claim. */
  hungryInFlight(): boolean {
    for (const key of this.hungry) if (this.perChannel.has(key)) return true;
    return false;
  }

  /** Gives a row's place back; true when its channel is hungry and has room enough for a claim. */
  release(row: MessageRow): boolean {
    const key = keyOf(row);
    this.inFlight--;
    const left = (this.perChannel.get(key) ?? 1) - 1;
    if (left > 0) this.perChannel.set(key, left);
    else this.perChannel.delete(key);
    if (!this.hungry.has(key)) return false;
    const share = this.shareOf({ workspaceId: row.workspace_id, id: row.channel_id });
    return share - left >= refillAt(share);
  }

  private shareOf(channel: { workspaceId: string; id: string }): number {
    return channelShare(this.sessions.windowOf(channel), this.maxInFlight);
  }
}
