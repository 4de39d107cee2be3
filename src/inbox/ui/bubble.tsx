import { useEffect, useState } from 'preact/hooks';
import { displayUrl } from './api.ts';

// One message as its platform would show it: text with its buttons and quick replies, images and
// files, lists, carousels, locations, and email HTML in a sandboxed frame (no scripts, no same
// origin: it can neither run nor reach the page or its key). A template send is shown as the body it
// was rendered to, marked as a template.

export interface Item {
  message: any;
  history: { status: string; at: string; reason: string | null; failure: any }[];
  interactions: any[];
}

/** What the contact can do to an outgoing message, when the inbox may act as the contact. */
export interface ContactActions {
  press(position: { item: number; card?: number }, label: string): void;
}

function Media({ url, alt, kind }: { url: string; alt?: string; kind: 'image' | 'video' | 'audio' }) {
  const [src, setSrc] = useState<string | undefined>();
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    displayUrl(url).then((s) => live && setSrc(s), () => live && setFailed(true));
    return () => void (live = false);
  }, [url]);
  if (failed) return <span class="media-missing">media unavailable</span>;
  if (!src) return <span class="media-loading">loading…</span>;
  if (kind === 'video') return <video src={src} controls class="media" />;
  if (kind === 'audio') return <audio src={src} controls />;
  return <img src={src} alt={alt ?? ''} class="media" loading="lazy" />;
}

function FileLink({ url, name, type }: { url: string; name?: string; type?: string }) {
  const open = async (e: Event) => {
    e.preventDefault();
    window.open(await displayUrl(url), '_blank', 'noopener');
  };
  return (
    <a class="file" href="#" onClick={open}>
      📎 {name || url.split('/').pop()} {type ? <small>({type})</small> : null}
    </a>
  );
}

function Actions({ actions, card, act }: { actions?: any[]; card?: number; act?: ContactActions }) {
  if (!actions?.length) return null;
  return (
    <div class="actions">
      {actions.map((a, i) => {
        const label = a[a.type]?.text ?? a.link?.text ?? a.type;
        if (a.type === 'link') {
          return (
            <a class="action" href={a.link?.url} target="_blank" rel="noopener noreferrer">
              🔗 {label}
            </a>
          );
        }
        return (
          <button
            type="button"
            class="action"
            disabled={!act}
            title={act ? `Press as the contact (${a.type})` : a.type}
            onClick={() => act?.press(card === undefined ? { item: i } : { item: i, card }, label)}
          >
            {label}
          </button>
        );
      })}
    </div>
  );
}

function EmailFrame({ html }: { html: string }) {
  // sandbox="" : no scripts, no forms, a unique origin. Links open nowhere; images still load.
  return <iframe class="email" sandbox="" srcdoc={html} title="email body" referrerpolicy="no-referrer" />;
}

export function Body({ body, act }: { body: any; act?: ContactActions }) {
  if (!body || typeof body.type !== 'string') return <p class="muted">(no body)</p>;
  const c = body[body.type] ?? {};
  switch (body.type) {
    case 'text':
      return (
        <div>
          {c.metadata?.subject ? <p class="subject">{c.metadata.subject}</p> : null}
          <p class="text">{c.text}</p>
          {(c.attachments ?? []).map((a: any) => <FileLink url={a.mediaUrl} name={a.filename} type={a.contentType} />)}
          <Actions actions={c.actions} act={act} />
        </div>
      );
    case 'html':
      return (
        <div>
          {c.metadata?.subject ? <p class="subject">{c.metadata.subject}</p> : null}
          {c.html ? <EmailFrame html={c.html} /> : <p class="text">{c.text}</p>}
          {(c.attachments ?? []).map((a: any) => <FileLink url={a.mediaUrl} name={a.filename} type={a.contentType} />)}
        </div>
      );
    case 'image':
      return (
        <div>
          {(c.images ?? []).map((im: any) => <Media url={im.mediaUrl} alt={im.altText} kind="image" />)}
          {c.text ? <p class="text">{c.text}</p> : null}
          <Actions actions={c.actions} act={act} />
        </div>
      );
    case 'gif':
      return <Media url={c.mediaUrl} alt={c.altText} kind="image" />;
    case 'file':
      return (
        <div>
          {(c.files ?? []).map((f: any) =>
            /^image\//.test(f.contentType ?? '') ? <Media url={f.mediaUrl} alt={f.altText} kind="image" /> : <FileLink url={f.mediaUrl} name={f.filename} type={f.contentType} />,
          )}
          {c.text ? <p class="text">{c.text}</p> : null}
        </div>
      );
    case 'location':
      return (
        <p class="text">
          📍 {c.location?.label ?? c.label ?? 'Location'} ({c.coordinates?.latitude ?? c.location?.coordinates?.latitude},{' '}
          {c.coordinates?.longitude ?? c.location?.coordinates?.longitude})
        </p>
      );
    case 'carousel':
      return (
        <div class="carousel" role="list">
          {(c.items ?? []).map((it: any, card: number) => (
            <div class="card" role="listitem">
              {it.mediaUrl ? <Media url={it.mediaUrl} alt={it.title} kind="image" /> : null}
              <p class="title">{it.title}</p>
              {it.description ? <p class="muted">{it.description}</p> : null}
              <Actions actions={it.actions} card={card} act={act} />
            </div>
          ))}
        </div>
      );
    case 'list':
      return (
        <div class="list-body">
          {c.title ? <p class="title">{c.title}</p> : null}
          {c.text ? <p class="text">{c.text}</p> : null}
          {(c.items ?? []).map((it: any, card: number) => (
            <div class="list-item">
              {it.mediaUrl ? <Media url={it.mediaUrl} alt={it.title} kind="image" /> : null}
              <p class="title">{it.title}</p>
              {it.description ? <p class="muted">{it.description}</p> : null}
              <Actions actions={it.actions} card={card} act={act} />
            </div>
          ))}
          <Actions actions={c.actions} act={act} />
        </div>
      );
    default:
      return (
        <div>
          <p class="muted">{body.type}</p>
          <pre class="raw">{JSON.stringify(c, null, 2)}</pre>
        </div>
      );
  }
}

const FAILED = new Set(['rejected', 'sending_failed', 'delivery_failed', 'failed']);

export function statusClass(status: string): string {
  if (FAILED.has(status)) return 'status bad';
  if (status === 'delivered' || status === 'read') return 'status good';
  return 'status';
}

export function Timeline({ item }: { item: Item }) {
  const m = item.message;
  return (
    <div class="timeline">
      <ol aria-label="status timeline">
        {item.history.map((h) => (
          <li>
            <span class={statusClass(h.status)}>{h.status}</span> <time dateTime={h.at}>{new Date(h.at).toLocaleTimeString()}</time>
            {h.reason ? <span class="muted"> {h.reason}</span> : null}
          </li>
        ))}
      </ol>
      {m.failure ? (
        <p class="failure">
          failure {m.failure.code}: {m.failure.description}
          {m.failure.source ? ` (${m.failure.source.name} ${m.failure.source.code})` : ''}
        </p>
      ) : null}
      {item.interactions.length ? (
        <ul aria-label="interactions" class="interactions">
          {item.interactions.map((i) => (
            <li>
              <span class="interaction">{i.type}</span> {i.metadata?.reaction ? `${i.metadata.reaction.action} ${i.metadata.reaction.emoji}` : ''}{' '}
              {i.details ?? ''} <time dateTime={i.createdAt}>{new Date(i.createdAt).toLocaleTimeString()}</time>
            </li>
          ))}
        </ul>
      ) : null}
      <p class="muted small">
        id {m.id}
        {m.replyTo ? ` · reply to ${m.replyTo.id} (${m.replyTo.type})` : ''}
        {m.tags?.length ? ` · tags ${m.tags.join(', ')}` : ''}
      </p>
    </div>
  );
}
