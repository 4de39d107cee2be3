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
  private readonly loading = new Map<string, Promise<Channel | undefined>>();
  constructor(private readonly db: Db) {}

  async get(workspaceId: string, id: string): Promise<Channel | undefined> {
    if (!isUuid(id)) return undefined;
    const key = `${workspaceId}:${id}`;
    const ch = this.cache.get(key);
    if (ch) return ch;
    // When an entry expires under load, every request in flight would read the channel again; they
    // share one read instead.
    let pending = this.loading.get(key);
    if (!pending) {
      pending = getChannel(this.db, workspaceId, id).then(
        (loaded) => {
          this.loading.delete(key);
          if (loaded) this.cache.set(key, loaded);
          return loaded;
        },
        (err) => {
          this.loading.delete(key);
          throw err;
        },
      );
      this.loading.set(key, pending);
    }
    return pending;
  }

  forget(workspaceId: string, id: string): void {
    this.cache.delete(`${workspaceId}:${id}`);
    this.loading.delete(`${workspaceId}:${id}`);
  }

  clear(): void {
    this.cache.clear();
  }
}
