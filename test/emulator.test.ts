import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
// Imported the way a user's test suite imports it.
import { startEmulator, type Emulator } from 'aviary/testing';

let bird: Emulator;
before(async () => {
  bird = await startEmulator({ receiptDelayMs: 10 });
});
after(() => bird.close());

const send = (to: string) =>
  fetch(`${bird.baseUrl}/workspaces/${bird.workspaceId}/channels/${bird.channels.sms}/messages`, {
    method: 'POST',
    headers: { authorization: `AccessKey ${bird.accessKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ receiver: { contacts: [{ identifierValue: to }] }, body: { type: 'text', text: { text: 'hi' } } }),
  }).then((r) => r.json() as Promise<{ id: string }>);

test('the README example: send, wait for delivered, reset keeps ids and key', async () => {
  const { id } = await send('+31612345678');
  const done = await bird.waitForStatus(id, 'delivered');
  assert.equal(done.id, id, 'resolves with the message');
  assert.equal((done.receiver as { contacts: { identifierValue: string }[] }).contacts[0].identifierValue, '+31612345678');
  const ids = { ws: bird.workspaceId, key: bird.accessKey, sms: bird.channels.sms };
  await bird.reset();
  assert.deepEqual({ ws: bird.workspaceId, key: bird.accessKey, sms: bird.channels.sms }, ids);
  const list = await fetch(`${bird.baseUrl}/workspaces/${bird.workspaceId}/messages`, { headers: { authorization: `AccessKey ${bird.accessKey}` } }).then((r) => r.json() as Promise<{ results: unknown[] }>);
  assert.equal(list.results.length, 0, 'reset emptied the messages');
  const again = await send('+31612345678');
  await bird.waitForStatus(again.id, 'delivered'); // rejects if the channels stopped working after reset
});

test('waitForStatus fails clearly when the status never comes', async () => {
  const { id } = await send('+31612341006'); // no receipt ever
  await assert.rejects(bird.waitForStatus(id, 'delivered', { timeoutMs: 300 }), /did not reach delivered within 300 ms/);
});

test("startEmulator({ clock: 'virtual' }): nothing happens until advanceClock, which resolves once it has; reset puts the clock back", async () => {
  const virtual = await startEmulator({ clock: 'virtual' });
  try {
    const start = virtual.now().getTime();
    const res = await fetch(`${virtual.baseUrl}/workspaces/${virtual.workspaceId}/channels/${virtual.channels.sms}/messages`, {
      method: 'POST',
      headers: { authorization: `AccessKey ${virtual.accessKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'text', text: { text: 'hi' } }, scheduledFor: new Date(start + 86_400_000).toISOString() }),
    });
    const { id } = (await res.json()) as { id: string };
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(virtual.now().getTime(), start, 'time stood still');
    assert.equal((await virtual.waitForStatus(id, ['accepted', 'scheduled'])).status !== 'delivered', true);
    assert.equal((await virtual.advanceClock('1d')).getTime(), start + 86_400_000);
    await virtual.advanceClock(new Date(start + 86_400_000 + 100));
    assert.equal((await virtual.waitForStatus(id, 'delivered', { timeoutMs: 50 })).status, 'delivered', 'delivered by the time advanceClock resolved');
    await assert.rejects(virtual.advanceClock('-1h'), /not a duration forward/);
    await virtual.reset();
    assert.equal(virtual.now().getTime(), start);
  } finally {
    await virtual.close();
  }
  await assert.rejects(bird.advanceClock('1h'), /clock: 'virtual'/);
});
