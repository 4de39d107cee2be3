import type { Db } from '../db/database.ts';
import { isUuid } from '../ids.ts';
import { TtlCache } from '../ttl-cache.ts';
import { getChannel, type Channel } from './channels.ts';

// Every send reads its channel; caching it for a second takes that read off the hot path. A change
// made through this process is seen at once (the route calls forget); one made by another process
// within a second, such as deactivating the channel, may let a few more sends through.
const CHANNEL_TTL_MS = 1_000;

export class ChannelCache {
  private readonly cache = new TtlCache<Channel>(CHANNEL_TTL_MS);
  constructor(private readonly db: Db) {}

  async get(workspaceId: string, id: string): Promise<Channel | undefined> {
    if (!isUuid(id)) return undefined;
    const key = `${workspaceId}:${id}`;
    let ch = this.cache.get(key);
    if (!ch) {
      ch = await getChannel(this.db, workspaceId, id);
      if (ch) this.cache.set(key, ch);
    }
    return ch;
  }

  forget(workspaceId: string, id: string): void {
    this.cache.delete(`${workspaceId}:${id}`);
  }

  clear(): void {
    this.cache.clear();
  }
}
