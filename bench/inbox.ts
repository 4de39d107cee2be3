// Issue 14: the web inbox "stays fast with 1,000,000 messages in the workspace (first paint under 1 s
// with a warm cache)". One `aviary serve`-equivalent process on a throwaway PostgreSQL database, two
// workspaces: one holding N messages (bulk-loaded like bench/list-messages.ts, with an accepted and a
// final status in the history of each), and a baseline holding 1,000 of the same shape, measured in
// the same run. For each: the inbox's own reads (what each view asks for on first paint), then the
// first paint in Debian's Chromium: from navigation to the first message bubble of a conversation
// and to the first row of "All messages", cold (first visit) and warm (the visits after).
//
//   npx tsx bench/inbox.ts [--rows 1000000] [--repeat 20] [--visits 6]
//
// Without /usr/bin/chromium the browser half is skipped (say so) and the API half still runs.
import { existsSync } from 'node:fs';
import pg from 'pg';
import { createLogger, startAviary, type Aviary } from '../src/app.ts';
import { defaultConfig, type Config } from '../src/config.ts';
import { bulkLoad } from './list-messages.ts';
import { createBenchDatabase, dropBenchDatabase } from './pg.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROWS = arg('rows', 1_000_000);
const REPEAT = arg('repeat', 20);
const VISITS = arg('visits', 6);
const CHROMIUM = '/usr/bin/chromium';
const log = (line: string) => console.log(line);

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const fmt = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(0));

/** Every message gets its history as the pipeline writes it: accepted, then its final status. */
async function addHistory(url: string, workspaceId: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      `insert into message_status_history (workspace_id, message_id, status, at, reason, failure)
       select workspace_id, id, s.status, created_at + s.after, case when s.final then reason end, case when s.final then failure end
       from messages m
       cross join lateral (values ('accepted', interval '0', false), (m.status, interval '120 ms', true)) s(status, after, final)
       where workspace_id = $1`,
      [workspaceId],
    );
    await c.query('vacuum (analyze) message_status_history');
  } finally {
    await c.end();
  }
}

interface Workspace {
  id: string;
  label: string;
  sms: string;
  contact: string;
}

async function api(aviary: Aviary, key: string, path: string): Promise<{ ms: number; body: any }> {
  const t0 = performance.now();
  const res = await fetch(`${aviary.url}${path}`, { headers: { authorization: `AccessKey ${key}` } });
  const body = await res.json();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return { ms, body };
}

/** The reads behind each view, as the page makes them; p50 / p95 / max over REPEAT warm runs. */
async function measureReads(aviary: Aviary, key: string, ws: Workspace): Promise<Array<{ name: string; results: number; ms: number[] }>> {
  const base = `/inbox/api/workspaces/${ws.id}`;
  const cases: Array<[string, string]> = [
    ['session', '/inbox/api/session'],
    ['channels', `/workspaces/${ws.id}/channels?limit=1000`],
    ['conversations (sms channel)', `${base}/conversations?channelId=${ws.sms}`],
    ['conversation: channel + contact, 50', `${base}/messages?channelId=${ws.sms}&contact=${encodeURIComponent(ws.contact)}&limit=50`],
    ['all messages, 25', `${base}/messages?limit=25`],
    ['platform=whatsapp', `${base}/messages?platform=whatsapp&limit=25`],
    ['status=failed (1%)', `${base}/messages?status=failed&limit=25`],
    ['tag=vip (0.1%)', `${base}/messages?tag=vip&limit=25`],
    ['receiver, whole workspace', `${base}/messages?contact=${encodeURIComponent(ws.contact)}&limit=25`],
    ['text, common ("verification")', `${base}/messages?text=verification&limit=25`],
    ['text, rare ("code is 000777")', `${base}/messages?text=${encodeURIComponent('code is 000777')}&limit=25`],
  ];
  const out = [];
  for (const [name, path] of cases) {
    let results = 0;
    for (let i = 0; i < 2; i++) {
      const { body } = await api(aviary, key, path);
      results = body.results?.length ?? body.workspaces?.length ?? 0;
    }
    const ms: number[] = [];
    for (let i = 0; i < REPEAT; i++) ms.push((await api(aviary, key, path)).ms);
    out.push({ name, results, ms });
  }
  return out;
}

async function measurePaint(aviary: Aviary, key: string, ws: Workspace): Promise<Record<string, { cold: number; warm: number[] }>> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
    context.setDefaultTimeout(30_000);
    // Signed in as after the sign-in form: the key in this tab's sessionStorage.
    await context.addInitScript((k) => sessionStorage.setItem('aviary.inbox.key', k), key);
    const page = await context.newPage();
    const views: Record<string, { hash: string; selector: string }> = {
      conversation: { hash: `#/w/${ws.id}/c/${ws.sms}/t/${encodeURIComponent(ws.contact)}`, selector: '.bubble' },
      'conversation list': { hash: `#/w/${ws.id}/c/${ws.sms}`, selector: 'section.conversations li a' },
      'all messages': { hash: `#/w/${ws.id}/search`, selector: 'main .bubble, main article, main li' },
    };
    const out: Record<string, { cold: number; warm: number[] }> = {};
    for (const [name, v] of Object.entries(views)) {
      const times: number[] = [];
      for (let i = 0; i < VISITS; i++) {
        await page.goto('about:blank');
        const t0 = performance.now();
        await page.goto(`${aviary.url}/inbox${v.hash}`);
        await page.locator(v.selector).first().waitFor();
        times.push(performance.now() - t0);
      }
      out[name] = { cold: times[0], warm: times.slice(1) };
    }
    return out;
  } finally {
    await browser.close();
  }
}

const db = await createBenchDatabase('inbox');
let aviary: Aviary | undefined;
try {
  const config: Config = { ...defaultConfig(), port: 0, databaseUrl: db.url, logLevel: 'warn', rateLimit: false };
  aviary = await startAviary(config, createLogger({ logLevel: 'warn' }));
  const boot = aviary.bootstrap!;
  const key = boot.accessKey;
  const auth = { authorization: `AccessKey ${key}`, 'content-type': 'application/json' };
  const created = await fetch(`${aviary.url}/organizations/${boot.organizationId}/workspaces`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'baseline' }) }).then(
    (r) => r.json() as Promise<{ id: string }>,
  );
  const workspaces: Workspace[] = [];
  for (const [id, label, rows] of [
    [boot.workspace.id, `${ROWS.toLocaleString('en')} messages`, ROWS],
    [created.id, '1,000 messages (baseline)', 1000],
  ] as const) {
    const t0 = performance.now();
    await bulkLoad(db.url, id, rows, rows > 100_000 ? log : () => {});
    await addHistory(db.url, id);
    log(`# ${label}: loaded with history in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const channels = (await api(aviary, key, `/workspaces/${id}/channels?limit=100`)).body.results as Array<{ id: string; platform: string }>;
    // A receiver of the bulk load (one of 10,000, about 70 of its messages on the SMS channel).
    workspaces.push({ id, label, sms: channels.find((c) => c.platform === 'sms')!.id, contact: '+31610007919' });
  }

  const reads = [];
  for (const ws of workspaces) reads.push(await measureReads(aviary, key, ws));
  log(`\n## Inbox reads, ms over ${REPEAT} warm requests each (p50 / p95 / max); results on the page`);
  log(`| read | ${workspaces.map((w) => w.label).join(' | ')} |`);
  log(`|---|${workspaces.map(() => '---').join('|')}|`);
  for (let i = 0; i < reads[0].length; i++) {
    const cells = reads.map((r) => `${fmt(quantile(r[i].ms, 0.5))} / ${fmt(quantile(r[i].ms, 0.95))} / ${fmt(Math.max(...r[i].ms))} (${r[i].results})`);
    log(`| ${reads[0][i].name} | ${cells.join(' | ')} |`);
  }

  if (!existsSync(CHROMIUM)) {
    log(`\n# ${CHROMIUM} is not installed: first paint in the browser not measured`);
  } else {
    const paints = [];
    for (const ws of workspaces) paints.push(await measurePaint(aviary, key, ws));
    log(`\n## First paint in Chromium, ms from navigation to the first item shown: cold (first visit) · warm p50 / max over ${VISITS - 1}`);
    log(`| view | ${workspaces.map((w) => w.label).join(' | ')} |`);
    log(`|---|${workspaces.map(() => '---').join('|')}|`);
    for (const view of Object.keys(paints[0])) {
      log(`| ${view} | ${paints.map((p) => `${fmt(p[view].cold)} · ${fmt(quantile(p[view].warm, 0.5))} / ${fmt(Math.max(...p[view].warm))}`).join(' | ')} |`);
    }
  }
} finally {
  await aviary?.close();
  await dropBenchDatabase(db.name);
}
