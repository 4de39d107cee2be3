import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { SmtpPool, type SmtpError } from '../src/connectors/smtp/pool.ts';
import { freePort } from './support/smtp-peer.ts';

// The SMTP connection pool against smtp-server: how many connections it opens, that a refused mail
// keeps its connection, that a connection the server ends while idle is replaced without a failed
// send, that a refused connect fails only the send it was opened for, and AUTH.

interface Relay { port: number; opened: number; open: number; maxOpen: number; received: string[]; dropIdle(): void; close(): Promise<void> }

async function startRelay(opts: { auth?: { user: string; pass: string } } = {}): Promise<Relay> {
  const sockets = new Set<{ destroy(): void }>();
  const relay: Relay = {
    port: 0, opened: 0, open: 0, maxOpen: 0, received: [],
    dropIdle: () => { for (const s of sockets) s.destroy(); },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = new SMTPServer({
    disabledCommands: opts.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !opts.auth,
    logger: false,
    onAuth(auth, _s, cb) {
      if (auth.username === opts.auth?.user && auth.password === opts.auth?.pass) return cb(null, { user: auth.username });
      cb(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
    onConnect(session, cb) {
      relay.opened++;
      relay.maxOpen = Math.max(relay.maxOpen, ++relay.open);
      cb();
    },
    onClose() { relay.open--; },
    onRcptTo(address, _s, cb) {
      if (address.address.startsWith('unknown@')) return cb(Object.assign(new Error('5.1.1 User unknown'), { responseCode: 550 }));
      cb();
    },
    onData(stream, _s, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        relay.received.push(Buffer.concat(chunks).toString());
        cb(null, 'Ok');
      });
    },
  });
  server.on('error', () => {});
  server.server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  relay.port = (server.server.address() as AddressInfo).port;
  return relay;
}

const mail = (i: number) => Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n`);
const poolFor = (port: number, size: number, auth?: { user: string; pass: string }) =>
  new SmtpPool({ size, auth, connection: { host: '127.0.0.1', port, ignoreTLS: true, connectionTimeout: 2000, greetingTimeout: 2000, socketTimeout: 5000 } });
const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check());
};

describe('SMTP connection pool', () => {
  let relay: Relay;
  before(async () => { relay = await startRelay(); });
  after(() => relay.close());

  test('30 sends over at most 3 connections, opened once and reused', async () => {
    const pool = poolFor(relay.port, 3);
    const before = relay.opened;
    const infos = await Promise.all(Array.from({ length: 30 }, (_, i) => pool.send({ from: 'a@aviary.test', to: [`u${i}@example.com`] }, mail(i))));
    assert.equal(infos.length, 30);
    assert.ok(infos.every((x) => x.accepted.length === 1));
    assert.equal(relay.opened - before, 3);
    assert.ok(relay.maxOpen <= 3);
    for (let i = 0; i < 30; i++) assert.ok(relay.received.some((r) => r.includes(`body ${i}\r\n`)), `mail ${i}`);
    await pool.close();
    await until(() => relay.open === 0);
  });

  test('a refused recipient rejects that send only; the connection is reset and kept', async () => {
    const pool = poolFor(relay.port, 1);
    await pool.send({ from: 'a@aviary.test', to: ['ok@example.com'] }, mail(1));
    const opened = relay.opened;
    await assert.rejects(pool.send({ from: 'a@aviary.test', to: ['unknown@example.com'] }, mail(2)), (e: SmtpError) => e.code === 'EENVELOPE' && e.rejectedErrors?.[0]?.responseCode === 550);
    const info = await pool.send({ from: 'a@aviary.test', to: ['ok@example.com'] }, mail(3));
    assert.equal(info.accepted.length, 1);
    assert.equal(relay.opened, opened);
    await pool.close();
  });

  test('a connection the server ends while idle is replaced: the next send does not fail', async () => {
    const pool = poolFor(relay.port, 2);
    await Promise.all([1, 2].map((i) => pool.send({ from: 'a@aviary.test', to: ['ok@example.com'] }, mail(i))));
    const opened = relay.opened;
    relay.dropIdle();
    await until(() => relay.open === 0);
    await new Promise((r) => setTimeout(r, 20));
    const infos = await Promise.all([3, 4].map((i) => pool.send({ from: 'a@aviary.test', to: ['ok@example.com'] }, mail(i))));
    assert.equal(infos.length, 2);
    assert.ok(relay.opened > opened);
    await pool.close();
  });

  test('a refused connect fails the send it was opened for, as a connection error; close() fails those still waiting', async () => {
    const pool = poolFor(await freePort(), 1);
    const sends = [1, 2, 3].map((i) => pool.send({ from: 'a@aviary.test', to: ['ok@example.com'] }, mail(i)));
    await assert.rejects(sends[0], (e: SmtpError) => ['ECONNECTION', 'ESOCKET'].includes(e.code!) && !e.responseCode);
    await pool.close();
    for (const s of sends.slice(1)) await assert.rejects(s, (e: SmtpError) => ['ECONNECTION', 'ESOCKET'].includes(e.code!));
    await assert.rejects(pool.send({ from: 'a@aviary.test', to: ['ok@example.com'] }, mail(4)), /closed/);
  });

  test('AUTH: the right credentials send, wrong ones fail with EAUTH', async () => {
    const secured = await startRelay({ auth: { user: 'bird', pass: 's3cret' } });
    try {
      const good = poolFor(secured.port, 1, { user: 'bird', pass: 's3cret' });
      assert.equal((await good.send({ from: 'a@aviary.test', to: ['ok@example.com'] }, mail(1))).accepted.length, 1);
      await good.close();
      const bad = poolFor(secured.port, 1, { user: 'bird', pass: 'wrong' });
      await assert.rejects(bad.send({ from: 'a@aviary.test', to: ['ok@example.com'] }, mail(2)), (e: SmtpError) => e.code === 'EAUTH' && e.responseCode === 535);
      await bad.close();
      assert.equal(secured.received.length, 1);
    } finally {
      await secured.close();
    }
  });
});
