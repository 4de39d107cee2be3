// The inbox's only way to the server. The access key lives in sessionStorage (gone when the tab
// closes) and travels only in the Authorization header of requests to this origin: never in a URL,
// so it is in no server log, browser history or Referer. That is also why live updates are read with
// fetch rather than EventSource, which cannot send headers.

const KEY = 'aviary.inbox.key';

export const keyStore = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (key: string) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const key = keyStore.get();
  return key ? { authorization: `AccessKey ${key}`, ...extra } : extra;
}

export async function api<T = any>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers: headers(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    cache: 'no-store',
  });
  const text = await res.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  if (!res.ok) {
    const details = body?.details ? ` ${Object.entries(body.details).map(([k, v]) => `${k}: ${(v as string[]).join(', ')}`).join('; ')}` : '';
    throw new ApiError(res.status, `${body?.message ?? res.statusText}${details}`, body);
  }
  return body as T;
}

export function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Uploads a file the way a Bird client does (presigned upload); resolves with its mediaUrl. */
export async function uploadFile(workspaceId: string, channelId: string, file: File): Promise<string> {
  const contentType = file.type || 'application/octet-stream';
  const p = await api<{ mediaUrl: string; uploadUrl: string; uploadFormData: Record<string, string> }>(
    `/workspaces/${workspaceId}/channels/${channelId}/presigned-upload`,
    { method: 'POST', body: { contentType } },
  );
  const form = new FormData();
  for (const [k, v] of Object.entries(p.uploadFormData)) form.append(k, v);
  form.append('file', file, file.name);
  // No key: the signed policy is the credential (and the upload may go to another origin).
  const res = await fetch(p.uploadUrl, { method: 'POST', body: form });
  if (!res.ok) throw new ApiError(res.status, `Upload failed: ${res.status} ${await res.text()}`);
  return p.mediaUrl;
}

const blobs = new Map<string, Promise<string>>();

/**
 * A URL an <img> can show. Aviary's own media need the key, which an <img> cannot send: they are
 * fetched with it and shown from a blob URL. Anything else is the platform's public URL, shown as is.
 */
export function displayUrl(url: string): Promise<string> {
  let u: URL;
  try {
    u = new URL(url, location.href);
  } catch {
    return Promise.resolve(url);
  }
  if (u.origin !== location.origin) return Promise.resolve(url);
  let p = blobs.get(u.pathname);
  if (!p) {
    p = fetch(u.pathname, { headers: headers() }).then(async (res) => {
      if (!res.ok) throw new ApiError(res.status, `media: ${res.status}`);
      return URL.createObjectURL(await res.blob());
    });
    p.catch(() => blobs.delete(u.pathname));
    blobs.set(u.pathname, p);
  }
  return p;
}

export type LiveState = 'connecting' | 'live' | 'offline';

/**
 * Reads the workspace's event stream (server-sent events over fetch) and calls `onEvent` per event;
 * reconnects after a drop. Returns a function that stops it.
 */
export function openLive(workspaceId: string, onEvent: (event: string, data: any) => void, onState: (s: LiveState) => void): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const connect = async () => {
    controller = new AbortController();
    onState('connecting');
    try {
      const res = await fetch(`/inbox/api/workspaces/${workspaceId}/events`, { headers: headers({ accept: 'text/event-stream' }), signal: controller.signal, cache: 'no-store' });
      if (!res.ok || !res.body) throw new ApiError(res.status, 'live feed refused');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (!data) continue;
          if (event === 'ready') onState('live');
          onEvent(event, JSON.parse(data));
        }
      }
    } catch (err) {
      if (stopped) return;
      if (err instanceof ApiError && err.status === 401) return onState('offline');
    }
    if (stopped) return;
    onState('offline');
    retry = setTimeout(() => void connect(), 1000);
  };
  void connect();
  return () => {
    stopped = true;
    clearTimeout(retry);
    controller?.abort();
  };
}
