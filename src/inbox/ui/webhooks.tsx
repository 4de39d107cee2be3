import { useEffect, useState } from 'preact/hooks';
import { api } from './api.ts';

// Webhook subscriptions and their deliveries, read through Bird's Notifications API (logs,
// logs/details) and redelivered through Aviary's redeliver route: what a test would call. The open
// subscription's log is read again every second, so attempts and redeliveries show as they happen.

const REFRESH_MS = 1000;

export function Webhooks({ ws }: { ws: string }) {
  const [subs, setSubs] = useState<any[] | undefined>();
  const [open, setOpen] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    api(`/workspaces/${ws}/webhook-subscriptions?limit=100`).then(
      (r) => {
        setSubs(r.results);
        if (r.results.length) setOpen((o) => o ?? r.results[0].id);
      },
      (e) => setError(e.message),
    );
  }, [ws]);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!subs) return <p class="muted">Loading subscriptions…</p>;
  if (subs.length === 0) return <p class="muted">No webhook subscriptions in this workspace. Create one with POST /workspaces/{ws}/webhook-subscriptions.</p>;
  return (
    <div class="webhooks">
      <section aria-label="subscriptions" class="subs">
        <h2>Subscriptions</h2>
        <ul>
          {subs.map((s) => (
            <li>
              <button type="button" class={s.id === open ? 'sub selected' : 'sub'} aria-pressed={s.id === open} onClick={() => setOpen(s.id)}>
                <strong>{s.event}</strong> <span class={s.status === 'active' ? 'status good' : 'status bad'}>{s.status}</span>
                <br />
                <small>{s.url}</small>
              </button>
            </li>
          ))}
        </ul>
      </section>
      {open ? <Deliveries ws={ws} sub={open} key={open} /> : null}
    </div>
  );
}

function Deliveries({ ws, sub }: { ws: string; sub: string }) {
  const [logs, setLogs] = useState<any[]>([]);
  const [selected, setSelected] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let live = true;
    const load = () =>
      api(`/workspaces/${ws}/webhook-subscriptions/${sub}/logs?limit=50`).then(
        (r) => live && (setLogs(r.results), setError(undefined)),
        (e) => live && setError(e.message),
      );
    void load();
    const t = setInterval(load, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [ws, sub]);
  return (
    <section aria-label="deliveries" class="deliveries">
      <h2>Deliveries</h2>
      {error ? <p class="error" role="alert">{error}</p> : null}
      {logs.length === 0 ? <p class="muted">No deliveries yet.</p> : null}
      <ul>
        {logs.map((l) => (
          <li>
            <button type="button" class={l.requestId === selected ? 'log selected' : 'log'} aria-expanded={l.requestId === selected} onClick={() => setSelected(l.requestId === selected ? undefined : l.requestId)}>
              <span class={l.executionStatus === 'succeeded' ? 'status good' : l.executionStatus === 'failed' ? 'status bad' : 'status'}>{l.executionStatus}</span> {l.event}{' '}
              <small>
                {l.httpStatusCode ?? '—'} · {l.attemptCount} attempt{l.attemptCount === 1 ? '' : 's'} · {new Date(l.createdAt).toLocaleTimeString()}
                {l.redeliveryOf ? ' · redelivery' : ''}
              </small>
            </button>
            {l.requestId === selected ? <Delivery ws={ws} sub={sub} id={l.requestId} attempts={l.attemptCount} /> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Delivery({ ws, sub, id, attempts }: { ws: string; sub: string; id: string; attempts: number }) {
  const [d, setD] = useState<any>();
  const [note, setNote] = useState<string | undefined>();
  useEffect(() => {
    api(`/workspaces/${ws}/webhook-subscriptions/${sub}/logs/details?requestId=${id}`).then(setD, (e) => setNote(e.message));
  }, [ws, sub, id, attempts]);
  const redeliver = async () => {
    try {
      const r = await api(`/workspaces/${ws}/webhook-subscriptions/${sub}/logs/${id}/redeliver`, { method: 'POST' });
      setNote(`Redelivery queued as ${r.requestId}`);
    } catch (e) {
      setNote((e as Error).message);
    }
  };
  return (
    <div class="delivery">
      <button type="button" class="primary" onClick={redeliver}>
        Redeliver
      </button>
      {note ? <p role="status">{note}</p> : null}
      {d ? (
        <>
          <h3>Request body</h3>
          <pre class="raw">{pretty(d.requestBody)}</pre>
          {d.results.length === 0 ? <p class="muted">Not attempted yet.</p> : null}
          {d.results.map((a: any) => (
            <div class="attempt">
              <h3>
                Attempt {a.attempt} · {a.httpStatusCode ?? a.error ?? '—'} · {a.durationMs} ms · {new Date(a.createdAt).toLocaleTimeString()}
              </h3>
              <p class="small">POST {a.url}</p>
              <pre class="raw">{Object.entries(a.requestHeaders).map(([k, v]) => `${k}: ${v}`).join('\n')}</pre>
              <p class="small">Response</p>
              <pre class="raw">{a.responseBody ?? a.error ?? ''}</pre>
            </div>
          ))}
        </>
      ) : null}
    </div>
  );
}

function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}
