import { createLogger, startAviary } from '../app.ts';
import { ConfigError, OPTIONS, describeOptions, loadConfig, type Config } from '../config.ts';
import { DataDirLockedError } from '../db/data-dir-lock.ts';
import { adminCommands, type CliOutput, type CommandArgs } from './admin-commands.ts';
import { runSmsc, SMSC_USAGE } from './smsc-command.ts';

// `aviary <command> [options]`. Store options (--data-dir, --database-url, --memory, ...) apply to
// every command; the rest belong to the command.

const USAGE = `Usage: aviary <command> [options]

Commands:
  serve                       Run the API (default). Migrates and, on an empty store, bootstraps.
  migrate                     Apply pending migrations and exit.
  workspaces list             List workspaces.
  workspaces create <name>    Create a workspace (--organization <id>, default: the first).
  keys list                   List access keys (never the keys themselves).
  keys create                 Create an access key and print it once (--workspace <id> to bind it to one
                              workspace, --name <label>; default: organization-wide).
  keys revoke <id|key>        Revoke an access key.
  channels list --workspace <id>
  channels create --workspace <id> --platform <sms|whatsapp|email|...> --name <name>
                  [--identifier <sender>] [--connector <type>] [--config '<json>'] [--inactive]
${SMSC_USAGE}
  help                        This text.

Options (flag, environment variable, default):
`;

function split(argv: string[], configFlags = new Set<string>(OPTIONS.map((o) => o.flag))): { positional: string[]; storeArgs: string[]; commandFlags: Map<string, string> } {
  const booleanConfig = new Set<string>(OPTIONS.filter((o) => typeof o.default === 'boolean').map((o) => o.flag));
  const positional: string[] = [];
  const storeArgs: string[] = [];
  const commandFlags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const bare = name.startsWith('--no-') ? `--${name.slice(5)}` : name;
    if (configFlags.has(bare)) {
      storeArgs.push(arg);
      const next = argv[i + 1];
      const takesValue = !booleanConfig.has(bare) || /^(true|false|yes|no|on|off|1|0)$/i.test(next ?? '');
      if (inline === undefined && takesValue && next !== undefined) storeArgs.push(argv[++i]);
      continue;
    }
    if (inline !== undefined) commandFlags.set(name, inline);
    else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) commandFlags.set(name, argv[++i]);
    else commandFlags.set(name, 'true');
  }
  return { positional, storeArgs, commandFlags };
}

async function serve(config: Config, io: CliOutput): Promise<void> {
  const log = createLogger(config);
  const aviary = await startAviary(config, log);
  log.info({ url: aviary.url, database: aviary.ctx.database.kind, location: aviary.ctx.database.location }, 'aviary listening');
  if (aviary.bootstrap) io.stdout.write(`${(await import('../bootstrap.ts')).welcomeText(aviary.bootstrap, aviary.url)}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    const timer = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    aviary.close().then(
      () => {
        log.info('stopped cleanly');
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export interface CliEnvironment extends CliOutput {
  env: NodeJS.ProcessEnv;
}

/**
 * Runs one command and resolves with its exit code (-1: `serve`, which keeps running), or rejects
 * with a ConfigError (usage: exit 2) or another error. Nothing here exits the process: `runCli` and
 * the binary decide that, so the commands can be embedded (and tested) in another process.
 */
export async function main(argv: string[], io: CliEnvironment = process): Promise<number> {
  const { positional, storeArgs, commandFlags } = split(argv);
  const [command = 'serve', ...rest] = positional;
  if (command === 'help' || commandFlags.has('--help') || commandFlags.has('-h')) {
    io.stdout.write(USAGE + describeOptions() + '\n');
    return 0;
  }
  if (command === 'smsc') {
    // Its --host and --port are the simulator's, not the API's: only --log-level is read as a config option.
    const own = split(argv, new Set(['--log-level']));
    const config = loadConfig(io.env, own.storeArgs);
    const smsc = await runSmsc({ positional: own.positional.slice(1), flags: own.commandFlags }, createLogger(config));
    const stop = () => void smsc.stop().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    return -1; // keep running
  }
  const config = loadConfig(io.env, storeArgs);
  if (command === 'serve') {
    if (commandFlags.size) throw new ConfigError(`unknown option ${[...commandFlags.keys()][0]} (see \`aviary help\`)`);
    await serve(config, io);
    return -1; // keep running
  }
  const run = adminCommands[command];
  if (!run) throw new ConfigError(`unknown command "${command}" (see \`aviary help\`)`);
  const args: CommandArgs = { positional: rest, flags: commandFlags };
  return run(config, args, io);
}

/** `main`, with errors written to stderr as the binary shows them and turned into its exit codes (2: usage, 1: failure). */
export async function runCli(argv: string[], io: CliEnvironment = process): Promise<number> {
  try {
    return await main(argv, io);
  } catch (err) {
    const e = err as Error | undefined;
    const expected = err instanceof ConfigError || err instanceof DataDirLockedError || /cannot connect to PostgreSQL/.test(String(e?.message));
    io.stderr.write(`aviary: ${expected ? e!.message : (e?.stack ?? String(err))}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
}
