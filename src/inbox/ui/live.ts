import type { Item } from './bubble.tsx';

// The page's one live stream fans out here: each open view takes the changed messages that belong
// to it. `null` means the server had too many changes to send one by one: views load again.

type Listener = (items: Item[] | null) => void;
const listeners = new Set<Listener>();

export function onLive(fn: Listener): () => void {
  listeners.add(fn);
  return () => void listeners.delete(fn);
}

export function publish(items: Item[] | null): void {
  for (const fn of listeners) fn(items);
}

/** `cur` (newest first) with `changed` replacing their older selves or added in order. */
export function upsert(cur: Item[], changed: Item[]): Item[] {
  const byId = new Map(cur.map((i) => [i.message.id, i]));
  for (const c of changed) byId.set(c.message.id, c);
  return [...byId.values()].sort((a, b) => (a.message.createdAt < b.message.createdAt ? 1 : a.message.createdAt > b.message.createdAt ? -1 : a.message.id < b.message.id ? 1 : -1));
}
