import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, keyStore, openLive, type LiveState } from './api.ts';
import { Conversation } from './conversation.tsx';
import { onLive, publish } from './live.ts';
import { Search } from './search.tsx';
import { Webhooks } from './webhooks.tsx';

// The inbox page: sign in with an access key, pick a workspace, then a channel's conversations, a
// search over every message, or the webhook deliveries. The location hash holds where you are (ids
// and a contact, never the key), so the back button and a reload keep the view.

type Route = { ws?: string; view: 'channels' | 'search' | 'webhooks'; channel?: string; contact?: string };

function parseHash(): Route {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const r: Route = { view: 'channels' };
  if (parts[0] === 'w' && parts[1]) {
    r.ws = parts[1];
    if (parts[2] === 'search') r.view = 'search';
    else if (parts[2] === 'webhooks') r.view = 'webhooks';
    else if (parts[2] === 'c' && parts[3]) {
      r.channel = parts[3];
      if (parts[4] === 't' && parts[5]) r.contact = parts[5];
    }
  }
  return r;
}

export function href(r: Route): string {
  if (!r.ws) return '#/';
  const base = `#/w/${encodeURIComponent(r.ws)}`;
  if (r.view === 'search' || r.view === 'webhooks') return `${base}/${r.view}`;
  if (!r.channel) return base;
  return `${base}/c/${encodeURIComponent(r.channel)}${r.contact ? `/t/${encodeURIComponent(r.contact)}` : ''}`;
}

function useRoute(): Route {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function SignIn({ onSignedIn, error }: { onSignedIn(session: any): void; error?: string }) {
  const [key, setKey] = useState('');
  const [problem, setProblem] = useState(error);
  const submit = async (e: Event) => {
    e.preventDefault();
    keyStore.set(key.trim());
    try {
      onSignedIn(await api('/inbox/api/session'));
    } catch (err) {
      keyStore.clear();
      setProblem((err as Error).message);
    }
  };
  return (
    <main class="signin">
      <h1>Aviary inbox</h1>
      <form onSubmit={submit}>
        <label for="access-key">Access key</label>
        <input id="access-key" type="password" autocomplete="off" required value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} autofocus />
        <button type="submit" class="primary">
          Sign in
        </button>
        {problem ? <p class="error" role="alert">{problem}</p> : null}
        <p class="muted small">The key stays in this tab (sessionStorage) and is sent only in the Authorization header.</p>
      </form>
    </main>
  );
}

function App() {
  const [session, setSession] = useState<any>();
  const [checking, setChecking] = useState(!!keyStore.get());
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    if (!keyStore.get()) return;
    api('/inbox/api/session').then(setSession, (err) => {
      if (err instanceof ApiError && err.status === 401) keyStore.clear();
      setError(err.message);
    }).finally(() => setChecking(false));
  }, []);
  if (checking) return <p class="boot">Signing in…</p>;
  if (!session) return <SignIn onSignedIn={setSession} error={error} />;
  return (
    <Shell
      session={session}
      signOut={() => {
        keyStore.clear();
        setSession(undefined);
        location.hash = '#/';
      }}
    />
  );
}

function Shell({ session, signOut }: { session: any; signOut(): void }) {
  const route = useRoute();
  const ws = route.ws ?? session.workspaces[0]?.id;
  const [channels, setChannels] = useState<any[]>([]);
  const [live, setLive] = useState<LiveState>('connecting');
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    if (!ws) return;
    setChannels([]);
    api(`/workspaces/${ws}/channels?limit=1000`).then((r) => setChannels(r.results), (e) => setError(e.message));
    return openLive(
      ws,
      (event, data) => {
        if (event === 'messages') publish(data);
        else if (event === 'resync') publish(null);
      },
      setLive,
    );
  }, [ws]);
  if (!ws) return <p class="error">This key may use no workspace.</p>;
  const channel = channels.find((c) => c.id === route.channel);
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href={href({ ws, view: 'channels' })}>
          Aviary inbox
        </a>
        <label class="sr-only" for="workspace">
          Workspace
        </label>
        <select id="workspace" value={ws} onChange={(e) => (location.hash = href({ ws: (e.target as HTMLSelectElement).value, view: 'channels' }))}>
          {session.workspaces.map((w: any) => (
            <option value={w.id}>{w.name}</option>
          ))}
        </select>
        <span class={`live ${live}`} role="status" aria-label={`live updates: ${live}`}>
          {live === 'live' ? '● live' : live === 'connecting' ? '○ connecting' : '○ offline'}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <nav class="side" aria-label="channels">
        <a href={href({ ws, view: 'search' })} aria-current={route.view === 'search' ? 'page' : undefined}>
          🔎 All messages
        </a>
        <a href={href({ ws, view: 'webhooks' })} aria-current={route.view === 'webhooks' ? 'page' : undefined}>
          🪝 Webhooks
        </a>
        <h2>Channels</h2>
        {error ? <p class="error">{error}</p> : null}
        <ul>
          {channels.map((c) => (
            <li>
              <a href={href({ ws, view: 'channels', channel: c.id })} aria-current={c.id === route.channel ? 'page' : undefined}>
                {c.name} <small class="muted">{c.platform}{c.connector?.type === 'sandbox' ? ' · sandbox' : ''}</small>
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main class="content">
        {route.view === 'search' ? (
          <Search ws={ws} channels={channels} />
        ) : route.view === 'webhooks' ? (
          <Webhooks ws={ws} />
        ) : channel ? (
          <ChannelView ws={ws} channel={channel} contact={route.contact} />
        ) : (
          <p class="muted">Pick a channel to see its conversations, or search all messages.</p>
        )}
      </main>
    </div>
  );
}

function ChannelView({ ws, channel, contact }: { ws: string; channel: any; contact?: string }) {
  const [conversations, setConversations] = useState<any[]>([]);
  const [newContact, setNewContact] = useState('');
  useEffect(() => {
    let live = true;
    const load = () => api(`/inbox/api/workspaces/${ws}/conversations?channelId=${channel.id}`).then((r) => live && setConversations(r.results), () => {});
    void load();
    // New contacts appear as their first message arrives.
    const stop = onLive((items) => {
      if (items === null || items.some((i) => i.message.channelId === channel.id)) void load();
    });
    return () => {
      live = false;
      stop();
    };
  }, [ws, channel.id]);
  return (
    <div class="channel-view">
      <section class="conversations" aria-label="conversations">
        <h2>{channel.name}</h2>
        {channel.connector?.type === 'sandbox' ? (
          <form
            class="new-contact"
            onSubmit={(e) => {
              e.preventDefault();
              if (newContact.trim()) location.hash = href({ ws, view: 'channels', channel: channel.id, contact: newContact.trim() });
            }}
          >
            <label for="new-contact">Be a contact</label>
            <input id="new-contact" placeholder="+31612345678" value={newContact} onInput={(e) => setNewContact((e.target as HTMLInputElement).value)} />
            <button type="submit">Open</button>
          </form>
        ) : null}
        {conversations.length === 0 ? <p class="muted">No conversations yet.</p> : null}
        <ul>
          {conversations.map((c) => (
            <li>
              <a href={href({ ws, view: 'channels', channel: channel.id, contact: c.contact })} aria-current={c.contact === contact ? 'page' : undefined}>
                <strong>{c.contact}</strong> <small class="muted">{c.count} · {new Date(c.lastAt).toLocaleTimeString()}</small>
              </a>
            </li>
          ))}
        </ul>
      </section>
      {contact ? <Conversation ws={ws} channel={channel} contact={contact} key={`${channel.id}/${contact}`} /> : null}
    </div>
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // the "Loading" note the HTML shows until this script runs
render(<App />, root);
