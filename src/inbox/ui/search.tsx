import { useEffect, useState } from 'preact/hooks';
import { MESSAGE_STATUSES } from '../../messages/lifecycle.ts';
import { api, query } from './api.ts';
import { Body, statusClass, Timeline, type Item } from './bubble.tsx';
import { onLive, upsert } from './live.ts';

// Every message of the workspace, newest first, filtered by platform, status, receiver (the contact,
// either direction), text and tag; a page at a time (keyset: the next page costs what the first did).
// Live changes to messages on the page are shown as they happen; new messages that match the filters
// are added at the top.

interface Filters {
  platform: string;
  status: string;
  contact: string;
  text: string;
  tag: string;
}

const EMPTY: Filters = { platform: '', status: '', contact: '', text: '', tag: '' };

function matches(m: any, f: Filters): boolean {
  if (f.platform && m.platform !== f.platform) return false;
  if (f.status && m.status !== f.status) return false;
  if (f.tag && !(m.tags ?? []).includes(f.tag.toLowerCase())) return false;
  if (f.text && !JSON.stringify(m.body ?? {}).toLowerCase().includes(f.text.toLowerCase())) return false;
  if (f.contact) {
    const c = f.contact.toLowerCase();
    const who = m.direction === 'incoming' ? [m.sender?.contact?.identifierValue] : (m.receiver?.contacts ?? []).map((r: any) => r.identifierValue);
    if (!who.some((w: string | undefined) => w?.toLowerCase() === c)) return false;
  }
  return true;
}

export function Search({ ws, channels }: { ws: string; channels: any[] }) {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [items, setItems] = useState<Item[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>();
  const [open, setOpen] = useState<string | undefined>();
  const platforms = [...new Set(channels.map((c) => c.platform))].sort();
  const names = new Map(channels.map((c) => [c.id, c.name]));

  const load = async (pageToken?: string) => {
    setError(undefined);
    try {
      const r = await api(`/inbox/api/workspaces/${ws}/messages${query({ ...filters, limit: '25', pageToken })}`);
      setItems((cur) => (pageToken ? [...cur, ...r.results] : r.results));
      setNext(r.nextPageToken);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    void load();
    return onLive((live) => {
      if (live === null) return void load();
      setItems((cur) => {
        const known = new Set(cur.map((i) => i.message.id));
        const changed = live.filter((i) => known.has(i.message.id) || matches(i.message, filters));
        return changed.length ? upsert(cur, changed) : cur;
      });
    });
  }, [ws, filters]);

  const field = (name: keyof Filters) => ({
    id: `f-${name}`,
    value: draft[name],
    onInput: (e: Event) => setDraft({ ...draft, [name]: (e.target as HTMLInputElement).value }),
  });
  return (
    <section class="search" aria-label="all messages">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <label class="field">
          <span>Platform</span>
          <select {...field('platform')} onChange={field('platform').onInput}>
            <option value="">any</option>
            {platforms.map((p) => (
              <option value={p}>{p}</option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Status</span>
          <select {...field('status')} onChange={field('status').onInput}>
            <option value="">any</option>
            {MESSAGE_STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Receiver</span>
          <input {...field('contact')} placeholder="+31612345678" />
        </label>
        <label class="field">
          <span>Text</span>
          <input {...field('text')} type="search" />
        </label>
        <label class="field">
          <span>Tag</span>
          <input {...field('tag')} />
        </label>
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      {error ? <p class="error" role="alert">{error}</p> : null}
      {items.length === 0 ? <p class="muted">No messages match.</p> : null}
      <ul class="results">
        {items.map((item) => {
          const m = item.message;
          const who = m.direction === 'incoming' ? m.sender?.contact?.identifierValue : (m.receiver?.contacts ?? []).map((c: any) => c.identifierValue).join(', ');
          return (
            <li class="result" data-message-id={m.id} key={m.id}>
              <div class="result-head">
                <span>{m.direction === 'incoming' ? '⬅' : '➡'}</span> <strong>{who}</strong> <small class="muted">{names.get(m.channelId) ?? m.channelId} · {new Date(m.createdAt).toLocaleString()}</small>{' '}
                <button type="button" class={`${statusClass(m.status)} link`} aria-expanded={open === m.id} onClick={() => setOpen(open === m.id ? undefined : m.id)}>
                  {m.status}
                </button>
              </div>
              <div class={m.direction === 'incoming' ? 'bubble in' : 'bubble out'}>
                <Body body={m.body} />
              </div>
              {open === m.id ? <Timeline item={item} /> : null}
            </li>
          );
        })}
      </ul>
      {next ? (
        <button type="button" class="more" onClick={() => load(next)}>
          Next page
        </button>
      ) : null}
    </section>
  );
}
