import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import type { ContractPeer } from './contract-peer.ts';
import type { SmtpConnectorOptions } from '../../src/connectors/smtp/smtp-connector.ts';

// A relay faked at the wire with smtp-server: it answers each recipient by its local part as a real
// relay would (unknown@ 550 5.1.1, full@ 452 4.2.2, busy@ 421, policy@ 550 5.7.1, slow@ after a
// delay, drop@ hangs up mid-DATA) and keeps what it accepted, raw, for the tests to parse.

export interface FakeRelay {
  port: number;
  received: { envelope: SMTPServerSession['envelope']; raw: Buffer }[];
  requireTls: boolean;
  close(): Promise<void>;
}

const DELAY_MS = 300;

export async function startFakeRelay(opts: { requireTls?: boolean; cert?: SelfSigned } = {}): Promise<FakeRelay> {
  const received: FakeRelay['received'] = [];
  const fail = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });
  const server = new SMTPServer({
    ...(opts.cert ? { key: readFileSync(opts.cert.keyPath), cert: readFileSync(opts.cert.certPath) } : { disabledCommands: ['STARTTLS'] }),
    authOptional: true,
    hideDSN: false,
    logger: false,
    onMailFrom(_a, session, cb) {
      if (opts.requireTls && !session.secure) return cb(fail(530, '5.7.0 Must issue a STARTTLS command first'));
      cb();
    },
    onRcptTo(address, _s, cb) {
      const local = address.address.split('@')[0];
      if (local === 'unknown') return cb(fail(550, `5.1.1 <${address.address}>: Recipient address rejected: User unknown`));
      if (local === 'full') return cb(fail(452, '4.2.2 Mailbox full'));
      if (local === 'busy') return cb(fail(421, '4.3.2 Service shutting down'));
      if (local === 'policy') return cb(fail(550, '5.7.1 Relaying denied'));
      if (local === 'slow') return void setTimeout(() => cb(), DELAY_MS);
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (session.envelope.rcptTo.some((r) => r.address.startsWith('drop@'))) {
          // The connection dies before the reply to DATA: whether the relay kept it is unknown.
          const conns = (server as unknown as { connections: Set<{ session?: { id: string }; _socket: { destroy(): void } }> }).connections;
          for (const c of conns) if (c.session?.id === session.id) c._socket.destroy();
          return;
        }
        received.push({ envelope: structuredClone(session.envelope), raw: Buffer.concat(chunks) });
        cb(null, '2.0.0 Ok: queued as FAKE');
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return { port, received, requireTls: !!opts.requireTls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** The contract peer for `smtp`: the fake relay out, Aviary's own listener in. */
export async function startSmtpPeer(): Promise<ContractPeer & { connectorOptions: SmtpConnectorOptions; relay: FakeRelay }> {
  const relay = await startFakeRelay();
  const listenPort = await freePort();
  const config = {
    host: '127.0.0.1',
    port: relay.port,
    tls: 'none',
    from: { address: 'news@aviary.test', name: 'Aviary' },
    returnPath: 'bounce+{id}@aviary.test',
    inbound: { addresses: ['support@aviary.test'] },
  };
  return {
    relay,
    config,
    connectorOptions: { listen: { port: listenPort, host: '127.0.0.1', maxBytes: 1024 * 1024 } },
    badConfigs: [
      { config: { ...config, port: 0 }, path: '/port' },
      { config: { ...config, tls: 'maybe' }, path: '/tls' },
      { config: { ...config, from: { address: 'not-an-address' } }, path: '/from/address' },
      { config: { ...config, extra: true }, path: '' },
    ],
    receiver: (kind) => ({
      identifierKey: 'emailaddress',
      identifierValue: { ok: 'alice@example.com', retryable: 'full@example.com', permanent: 'unknown@example.com', slow: 'slow@example.com' }[kind],
    }),
    sendsReceipts: false,
    async inbound(from, text) {
      const t = nodemailer.createTransport({ host: '127.0.0.1', port: listenPort, secure: false, ignoreTLS: true });
      await t.sendMail({ from, to: 'support@aviary.test', subject: 'Hello', text });
      t.close();
    },
    close: () => relay.close(),
  };
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export interface SelfSigned { certPath: string; keyPath: string; cert: Buffer }

/** A throwaway certificate for localhost and 127.0.0.1 (openssl, EC: generated in milliseconds). */
export function selfSignedCert(): SelfSigned {
  const dir = mkdtempSync(join(tmpdir(), 'aviary-tls-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyPath, '-out', certPath,
  ], { stdio: 'ignore' });
  return { certPath, keyPath, cert: readFileSync(certPath) };
}
