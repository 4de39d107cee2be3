import { useEffect, useRef, useState } from 'preact/hooks';
import { INTERACTION_PLATFORMS, type InteractionType } from '../../interactions/rules.ts';
import { api, query, uploadFile } from './api.ts';
import { Body, statusClass, Timeline, type ContactActions, type Item } from './bubble.tsx';
import { onLive, upsert } from './live.ts';

// One contact's conversation on one channel, drawn like the contact's phone: what the business sent
// on the right, what the contact wrote on the left. On a sandbox channel the inbox can be the
// contact: write in, send a file, press a button, pick a list row, react, read, unsubscribe; each
// through Aviary's simulation endpoints (docs/sandbox.md), exactly as a test would.

const REACTIONS = ['👍', '❤️', '😂'];

export function Conversation({ ws, channel, contact }: { ws: string; channel: any; contact: string }) {
  const [items, setItems] = useState<Item[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>();
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [replyTo, setReplyTo] = useState<any>();
  const bottom = useRef<HTMLDivElement>(null);
  const sandbox = channel.connector?.type === 'sandbox';
  const load = async (pageToken?: string) => {
    try {
      const r = await api(`/inbox/api/workspaces/${ws}/messages${query({ channelId: channel.id, contact, limit: '50', pageToken })}`);
      setItems((cur) => (pageToken ? [...cur, ...r.results] : r.results));
      setNext(r.nextPageToken);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    setItems([]);
    void load();
    return onLive((live) => {
      if (live === null) return void load();
      const mine = live.filter((i) => i.message.channelId === channel.id && involves(i.message, contact));
      if (mine.length) setItems((cur) => upsert(cur, mine));
    });
  }, [ws, channel.id, contact]);
  useEffect(() => bottom.current?.scrollIntoView({ block: 'end' }), [items.length]);

  const run = async (what: Promise<unknown>) => {
    setError(undefined);
    try {
      await what;
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const interact = (m: any, body: Record<string, unknown>) =>
    run(api(`/workspaces/${ws}/channels/${channel.id}/messages/${m.id}/sandbox/interactions`, { method: 'POST', body: { contact: { identifierValue: contact }, ...body } }));
  const allowed = (t: InteractionType) => (INTERACTION_PLATFORMS[t] as readonly string[]).includes(channel.platform);
  const toggle = (id: string) => setOpen((s) => (s.has(id) ? (s.delete(id), new Set(s)) : new Set(s.add(id))));

  const shown = [...items].reverse();
  return (
    <section class="phone" aria-label={`conversation with ${contact}`}>
      <header class="phone-head">
        <strong>{contact}</strong> <span class="muted">on {channel.name} ({channel.platform})</span>
      </header>
      <div class="thread" role="log" aria-live="polite">
        {next ? (
          <button type="button" class="more" onClick={() => load(next)}>
            Older messages
          </button>
        ) : null}
        {shown.length === 0 ? <p class="muted center">No messages with {contact} yet.</p> : null}
        {shown.map((item) => {
          const m = item.message;
          const out = m.direction === 'outgoing';
          const canAct = sandbox && out && (m.status === 'sent' || m.status === 'delivered');
          const act: ContactActions | undefined =
            canAct && allowed('clicked') ? { press: (position) => void interact(m, { type: 'clicked', ...position }) } : undefined;
          return (
            <article class={out ? 'bubble out' : 'bubble in'} data-message-id={m.id} key={m.id}>
              {m.template ? <p class="badge">template</p> : null}
              {m.replyTo ? <p class="muted small">↩ reply ({m.replyTo.type})</p> : null}
              <Body body={m.body} act={act} />
              <footer class="meta">
                <time dateTime={m.createdAt}>{new Date(m.createdAt).toLocaleTimeString()}</time>{' '}
                <button type="button" class={`${statusClass(m.status)} link`} aria-expanded={open.has(m.id)} onClick={() => toggle(m.id)} title="Status timeline">
                  {m.status}
                </button>
                {item.interactions.length ? <span class="muted small"> · {item.interactions.length} interaction(s)</span> : null}
              </footer>
              {canAct ? (
                <div class="contact-tools" aria-label="act as the contact">
                  {allowed('read') ? <button type="button" onClick={() => interact(m, { type: 'read' })}>Read</button> : null}
                  {allowed('opened') ? <button type="button" onClick={() => interact(m, { type: 'opened' })}>Open</button> : null}
                  {allowed('reaction')
                    ? REACTIONS.map((e) => (
                        <button type="button" aria-label={`react ${e}`} onClick={() => interact(m, { type: 'reaction', emoji: e })}>
                          {e}
                        </button>
                      ))
                    : null}
                  {allowed('unsubscribe-request') ? <button type="button" onClick={() => interact(m, { type: 'unsubscribe-request' })}>Unsubscribe</button> : null}
                  <button type="button" onClick={() => setReplyTo(m)}>Reply to this</button>
                </div>
              ) : null}
              {open.has(m.id) ? <Timeline item={item} /> : null}
            </article>
          );
        })}
        <div ref={bottom} />
      </div>
      {error ? <p class="error" role="alert">{error}</p> : null}
      {sandbox ? (
        <Composer ws={ws} channel={channel} contact={contact} replyTo={replyTo} clearReply={() => setReplyTo(undefined)} run={run} />
      ) : (
        <p class="muted small">This channel's connector is {channel.connector?.type}: only sandbox channels can be written to as the contact.</p>
      )}
    </section>
  );
}

function involves(m: any, contact: string): boolean {
  const c = contact.toLowerCase();
  if (m.direction === 'incoming') return m.sender?.contact?.identifierValue?.toLowerCase() === c;
  return (m.receiver?.contacts ?? []).some((r: any) => r.identifierValue?.toLowerCase() === c);
}

function Composer(props: { ws: string; channel: any; contact: string; replyTo?: any; clearReply(): void; run(p: Promise<unknown>): Promise<void> }) {
  const { ws, channel, contact, replyTo } = props;
  const [text, setText] = useState('');
  const file = useRef<HTMLInputElement>(null);
  const send = async (e: Event) => {
    e.preventDefault();
    const picked = file.current?.files?.[0];
    if (!text.trim() && !picked) return;
    await props.run(
      (async () => {
        let body: Record<string, unknown>;
        if (picked) {
          const mediaUrl = await uploadFile(ws, channel.id, picked);
          body = /^image\//.test(picked.type)
            ? { type: 'image', image: { images: [{ mediaUrl }], ...(text.trim() ? { text: text.trim() } : {}) } }
            : { type: 'file', file: { files: [{ mediaUrl, contentType: picked.type || 'application/octet-stream', filename: picked.name }], ...(text.trim() ? { text: text.trim() } : {}) } };
        } else {
          body = { type: 'text', text: { text: text.trim() } };
        }
        await api(`/workspaces/${ws}/channels/${channel.id}/sandbox/inbound`, {
          method: 'POST',
          body: { contact: { identifierValue: contact }, body, ...(replyTo ? { replyTo: { id: replyTo.id, type: 'message' } } : {}) },
        });
        setText('');
        if (file.current) file.current.value = '';
        props.clearReply();
      })(),
    );
  };
  return (
    <form class="composer" onSubmit={send} aria-label="write as the contact">
      {replyTo ? (
        <p class="small">
          Replying to {replyTo.id.slice(0, 8)}…{' '}
          <button type="button" class="link" onClick={props.clearReply}>
            cancel
          </button>
        </p>
      ) : null}
      <label class="sr-only" for="compose-text">
        Message from {contact}
      </label>
      <input id="compose-text" type="text" placeholder={`Write as ${contact}…`} value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} autocomplete="off" />
      <label class="file-pick" title="Attach a file">
        📎<span class="sr-only">Attach a file</span>
        <input type="file" ref={file} />
      </label>
      <button type="submit" class="primary">
        Send
      </button>
    </form>
  );
}
