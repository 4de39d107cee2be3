import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestAviary, type TestAviary } from './support/harness.ts';

// The web inbox in a real browser: Debian's Chromium (.ci/run installs it) driven by playwright-core.
// Without /usr/bin/chromium (a bare machine) the test says so and is skipped. With
// AVIARY_INBOX_SCREENSHOTS=<dir> it also saves the screenshots the README shows (docs/inbox-*.png).

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = process.env.AVIARY_INBOX_SCREENSHOTS;
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium): the browser test of the inbox is skipped`;

let t: TestAviary;
let browser: Browser;
const hooks: { method: string; url: string; body: string }[] = [];
let hookServer: ReturnType<typeof createServer>;

before(async () => {
  if (skip) return;
  hookServer = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hooks.push({ method: req.method!, url: req.url!, body });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  [t, browser] = await Promise.all([
    startTestAviary('pglite', { webhookRetryBaseMs: 50 }),
    chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] }),
  ]);
});

after(async () => {
  await browser?.close();
  await t?.close();
  hookServer?.close();
});

async function shot(page: Page, name: string) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/inbox-${name}.png` });
}

test('the inbox: sign-in, live incoming, a button press, a status timeline, a webhook redelivery, no key in any URL', { skip }, async () => {
  const ws = `/workspaces/${t.workspaceId}`;
  const wa = t.channel('whatsapp');
  const contact = '+31612345678';
  const hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hooks`;
  const sub = await t.request('POST', `${ws}/webhook-subscriptions`, { service: 'channels', event: 'whatsapp.inbound', url: hookUrl });
  assert.equal(sub.status, 201, JSON.stringify(sub.body));

  const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  context.setDefaultTimeout(5000);
  const page = await context.newPage();
  const urls: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('pageerror', (err) => assert.fail(`page error: ${err.message}`));

  // Sign in.
  await page.goto(`${t.url}/inbox`);
  await page.fill('#access-key', t.key);
  await page.keyboard.press('Enter');
  await page.getByRole('link', { name: /All messages/ }).waitFor();
  await page.getByText('● live').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('aviary.inbox.key')), t.key);
  assert.equal(await page.evaluate(() => localStorage.length), 0);

  // Open a conversation as the contact on the WhatsApp sandbox channel (keyboard only).
  await page.locator('nav a', { hasText: 'whatsapp · sandbox' }).click();
  await page.fill('#new-contact', contact);
  await page.keyboard.press('Enter');
  await page.getByText(`No messages with ${contact} yet.`).waitFor();

  // A message written in elsewhere (by the API, as a test would) appears without a reload, within 1 s.
  const inbound = await t.request('POST', `${ws}/channels/${wa}/sandbox/inbound`, { contact: { identifierValue: contact }, body: { type: 'text', text: { text: 'Hi, is my order on its way?' } } });
  assert.equal(inbound.status, 201);
  const posted = Date.now();
  await page.locator('.bubble.in', { hasText: 'Hi, is my order on its way?' }).waitFor({ timeout: 3000 });
  const liveMs = Date.now() - posted;
  assert.ok(liveMs < 1000, `the incoming message took ${liveMs} ms to appear`);

  // The business answers with buttons; the contact presses one in the inbox.
  const sent = await t.request('POST', `${ws}/channels/${wa}/messages`, {
    receiver: { contacts: [{ identifierValue: contact }] },
    body: { type: 'text', text: { text: 'It is. Want a delivery slot?', actions: [{ type: 'reply', reply: { text: 'Yes please' } }, { type: 'postback', postback: { text: 'No thanks', payload: 'no-slot' } }] } },
  });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const out = page.locator(`article[data-message-id="${sent.body.id}"]`);
  await out.getByRole('button', { name: 'delivered' }).waitFor();
  await shot(page, 'conversation');
  await out.getByRole('button', { name: 'No thanks' }).click();
  const click = page.locator('.bubble.in', { hasText: 'No thanks' });
  await click.waitFor();
  const clicks = await t.request('GET', `${ws}/channels/${wa}/messages/${sent.body.id}/interactions`);
  assert.deepEqual(clicks.body.results.map((i: any) => [i.type, i.details]), [['clicked', 'item_1_clicked']]);
  const replies = await t.request('GET', `${ws}/channels/${wa}/messages?direction=incoming&limit=10`);
  const reply = replies.body.results.find((m: any) => m.body.text.text === 'No thanks');
  assert.deepEqual(reply.replyTo, { id: sent.body.id, order: 0, type: 'click' });
  assert.deepEqual(reply.body.text.actions, [{ type: 'postback', postback: { text: 'No thanks', payload: 'no-slot' } }]);

  // The status timeline of the outgoing message, as stored, with the click among its interactions.
  await out.getByRole('button', { name: 'delivered' }).click();
  const timeline = out.getByRole('list', { name: 'status timeline' });
  await timeline.waitFor();
  const steps = (await timeline.locator('.status').allTextContents()).map((s) => s.trim());
  assert.deepEqual(steps, await t.history(sent.body.id));
  assert.equal(steps[0], 'accepted');
  assert.equal(steps.at(-1), 'delivered');
  await out.getByRole('list', { name: 'interactions' }).getByText('item_1_clicked').waitFor();
  await shot(page, 'timeline');

  // Webhooks: the inbound deliveries, their request and response, and a redelivery.
  await page.getByRole('link', { name: /Webhooks/ }).click();
  await page.getByText('whatsapp.inbound').first().waitFor();
  const first = page.locator('.log', { hasText: 'succeeded' }).last();
  await first.waitFor();
  await first.click();
  await page.getByText('Attempt 1 · 200').waitFor();
  const before = hooks.length;
  await page.getByRole('button', { name: 'Redeliver' }).click();
  await page.getByText(/Redelivery queued as/).waitFor();
  await page.locator('.log', { hasText: 'redelivery' }).filter({ hasText: 'succeeded' }).waitFor();
  assert.equal(hooks.length, before + 1);
  assert.equal(hooks.at(-1)!.body, hooks[0].body);
  await shot(page, 'webhooks');

  // A phone-sized window: the search view with a filter, in one column.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('link', { name: /All messages/ }).click();
  await page.fill('#f-text', 'delivery slot');
  await page.keyboard.press('Enter');
  await page.locator('.result', { hasText: 'delivery slot' }).waitFor();
  // The unfiltered list may still be on screen for a moment: wait for the filtered one.
  let count = 0;
  for (let i = 0; i < 50 && (count = await page.locator('.result').count()) !== 1; i++) await page.waitForTimeout(100);
  assert.equal(count, 1);
  await shot(page, 'phone');

  // The key never appeared in a URL the page asked for (nor in the page's own address).
  assert.ok(urls.length > 10);
  for (const u of [...urls, page.url()]) assert.ok(!u.includes(t.key), `the key is in ${u}`);
  await context.close();
});
