import type { Logger } from 'pino';
import { ConfigError } from '../config.ts';
import { MESSAGE_STATES, type FaultChange, type ReceiptStat } from '../smsc/faults.ts';
import { startSmsc, type SmscSimulator } from '../smsc/simulator.ts';
import type { CommandArgs } from './admin-commands.ts';

// `aviary smsc`: the SMSC simulator the tests use (src/smsc/), on a port, for trying SMPP channels
// locally. Flags set the common faults; the simulator logs binds and refusals through the usual logger
// and a line of counts every few seconds while traffic flows.

export const SMSC_USAGE = `  smsc [--port 2775] [--host 127.0.0.1] [--system-id <id> --password <pw>] [--id-format decimal|hex]
       [--receipt-stat DELIVRD|UNDELIV|EXPIRED|REJECTD|...] [--receipt-delay-ms <ms>] [--no-receipts]
       [--receipt-ids same|decimal|hex] [--receipt-parts all|first|last] [--duplicate-receipts]
       [--response-delay-ms <ms>] [--throttle-share <0..1>] [--nack '<regex>=<status>'] ...
                              Run an SMPP 3.4 SMSC simulator (SIGINT/SIGTERM stop it).`;

const FLAGS = new Set([
  '--port', '--host', '--system-id', '--password', '--id-format', '--receipt-stat', '--receipt-delay-ms', '--no-receipts',
  '--receipt-ids', '--receipt-parts', '--duplicate-receipts', '--response-delay-ms', '--throttle-share', '--nack',
]);

function num(args: CommandArgs, flag: string, min: number, max: number): number | undefined {
  const v = args.flags.get(flag);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(`${flag} must be a number from ${min} to ${max}, got "${v}"`);
  return n;
}

function oneOf<T extends string>(args: CommandArgs, flag: string, values: readonly T[]): T | undefined {
  const v = args.flags.get(flag);
  if (v === undefined) return undefined;
  if (!values.includes(v as T)) throw new ConfigError(`${flag} must be one of ${values.join(', ')}, got "${v}"`);
  return v as T;
}

/** Reads the flags into simulator options; a bad flag is a usage error (exit 2). */
export function smscOptions(args: CommandArgs) {
  for (const flag of args.flags.keys()) if (!FLAGS.has(flag)) throw new ConfigError(`unknown option ${flag} for smsc (see \`aviary help\`)`);
  const systemId = args.flags.get('--system-id');
  const password = args.flags.get('--password') ?? '';
  const nacks = (args.flags.get('--nack') ?? '')
    .split(',')
    .filter(Boolean)
    .map((spec) => {
      const at = spec.lastIndexOf('=');
      const status = Number(spec.slice(at + 1));
      if (at <= 0 || !Number.isInteger(status) || status <= 0) throw new ConfigError(`--nack takes '<destination regex>=<command_status>' (e.g. '^3160=0x0B'), got "${spec}"`);
      return { pattern: spec.slice(0, at), status };
    });
  const receipts: FaultChange['receipts'] = {};
  if (args.flags.has('--no-receipts')) receipts.enabled = false;
  const stat = oneOf(args, '--receipt-stat', Object.keys(MESSAGE_STATES) as ReceiptStat[]);
  if (stat) receipts.stat = stat;
  const delayMs = num(args, '--receipt-delay-ms', 0, 86_400_000);
  if (delayMs !== undefined) receipts.delayMs = delayMs;
  const idFormat = oneOf(args, '--receipt-ids', ['same', 'decimal', 'hex'] as const);
  if (idFormat) receipts.idFormat = idFormat;
  const parts = oneOf(args, '--receipt-parts', ['all', 'first', 'last'] as const);
  if (parts) receipts.parts = parts;
  if (args.flags.has('--duplicate-receipts')) receipts.duplicate = true;
  const faults: FaultChange = { receipts, nacks };
  const responseDelayMs = num(args, '--response-delay-ms', 0, 600_000);
  if (responseDelayMs !== undefined) faults.responseDelayMs = responseDelayMs;
  const share = num(args, '--throttle-share', 0, 1);
  if (share !== undefined) faults.throttle = { share };
  return {
    host: args.flags.get('--host') ?? '127.0.0.1',
    port: num(args, '--port', 0, 65535) ?? 2775,
    accounts: systemId && systemId !== 'true' ? [{ systemId, password }] : undefined,
    messageIdFormat: oneOf(args, '--id-format', ['decimal', 'hex'] as const) ?? 'decimal',
    faults,
  };
}

/** Starts the simulator and its progress line; resolves once it listens. */
export async function runSmsc(args: CommandArgs, log: Logger): Promise<{ sim: SmscSimulator; stop: () => Promise<void> }> {
  const options = smscOptions(args);
  // A long-running simulator keeps counts, not every PDU it ever saw.
  const sim = await startSmsc({ ...options, maxRecords: 10_000, log: log.child({ component: 'smsc' }) });
  log.info({ host: options.host, port: sim.port, systemId: options.accounts?.[0]?.systemId ?? '(any)', messageIdFormat: options.messageIdFormat }, 'smsc ready');
  let last = '';
  const progress = setInterval(() => {
    const { submits, accepted, deliveries } = sim.counts;
    const line = { binds: sim.binds().length, submits, accepted, deliveries };
    const key = JSON.stringify(line);
    if (key !== last) log.info(line, 'smsc traffic');
    last = key;
  }, 5000);
  progress.unref();
  return {
    sim,
    stop: async () => {
      clearInterval(progress);
      await sim.close();
    },
  };
}
