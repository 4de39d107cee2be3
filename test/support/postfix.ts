import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A throwaway Postfix on loopback with its own config and queue directories (never the system's
// instance or port 25), and smtp-sink peers behind it. Routing is by inline transport maps: the
// aviary.test domain goes back to Aviary's listener (so bounces are real Postfix bounces delivered to
// Aviary), `reject` recipients to a sink that refuses RCPT with 550 5.1.1, everything else to a sink
// that accepts.

export const POSTFIX = '/usr/sbin/postfix';
export const SMTP_SINK = '/usr/sbin/smtp-sink';
export const postfixMissing = !existsSync(POSTFIX) || !existsSync(SMTP_SINK)
  ? 'postfix is not installed (apt-get install -y postfix, with debconf postfix/main_mailer_type "No configuration")'
  : process.getuid?.() !== 0 ? 'starting a private Postfix instance needs root' : undefined;

export interface PostfixRig { port: number; stop(): Promise<void>; log(): string }

export async function startPostfix(o: { port: number; acceptPort: number; rejectPort: number; aviaryPort: number; rejectRecipients: string[] }): Promise<PostfixRig> {
  const dir = mkdtempSync(join(tmpdir(), 'aviary-postfix-'));
  const conf = join(dir, 'etc');
  mkdirSync(conf);
  chmodSync(dir, 0o755);
  // postfix-script refuses a queue directory that does not exist; it creates what lies below it.
  mkdirSync(join(dir, 'queue'));
  mkdirSync(join(dir, 'data'));
  spawnSync('chown', ['postfix', join(dir, 'data')]);
  const transport = [`aviary.test=smtp:[127.0.0.1]:${o.aviaryPort}`, ...o.rejectRecipients.map((r) => `${r}=smtp:[127.0.0.1]:${o.rejectPort}`)].join(', ');
  writeFileSync(join(conf, 'main.cf'), [
    'compatibility_level = 3.6',
    `queue_directory = ${dir}/queue`,
    `data_directory = ${dir}/data`,
    // post-install's list of Postfix files lives with the system's configuration.
    'meta_directory = /etc/postfix',
    'mail_owner = postfix',
    'setgid_group = postdrop',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'myhostname = mta.postfix.test',
    'mydomain = postfix.test',
    'myorigin = postfix.test',
    'mydestination =',
    'local_recipient_maps =',
    `relayhost = [127.0.0.1]:${o.acceptPort}`,
    `transport_maps = inline:{${transport}}`,
    'mynetworks = 127.0.0.0/8',
    'smtpd_relay_restrictions = permit_mynetworks, reject',
    'smtp_dns_support_level = disabled',
    'smtp_tls_security_level = none',
    `maillog_file = ${dir}/maillog`,
    `maillog_file_prefixes = ${dir}`,
    'queue_run_delay = 1s', 'minimal_backoff_time = 1s', 'maximal_backoff_time = 2s',
    'smtp_connect_timeout = 5s',
    '',
  ].join('\n'));
  const svc = (name: string, type: string, priv: string, wakeup: string, limit: string, cmd: string) => `${name} ${type} ${priv} - n ${wakeup} ${limit} ${cmd}`;
  writeFileSync(join(conf, 'master.cf'), [
    svc(`127.0.0.1:${o.port}`, 'inet', 'n', '-', '-', 'smtpd'),
    svc('pickup', 'unix', 'n', '60', '1', 'pickup'),
    svc('cleanup', 'unix', 'n', '-', '0', 'cleanup'),
    svc('qmgr', 'unix', 'n', '300', '1', 'qmgr'),
    svc('rewrite', 'unix', '-', '-', '-', 'trivial-rewrite'),
    svc('bounce', 'unix', '-', '-', '0', 'bounce'),
    svc('defer', 'unix', '-', '-', '0', 'bounce'),
    svc('trace', 'unix', '-', '-', '0', 'bounce'),
    svc('verify', 'unix', '-', '-', '1', 'verify'),
    svc('flush', 'unix', 'n', '1000?', '0', 'flush'),
    svc('proxymap', 'unix', '-', '-', '-', 'proxymap'),
    svc('smtp', 'unix', '-', '-', '-', 'smtp'),
    svc('relay', 'unix', '-', '-', '-', 'smtp'),
    svc('showq', 'unix', 'n', '-', '-', 'showq'),
    svc('error', 'unix', '-', '-', '-', 'error'),
    svc('retry', 'unix', '-', '-', '-', 'error'),
    svc('discard', 'unix', '-', '-', '-', 'discard'),
    svc('anvil', 'unix', '-', '-', '1', 'anvil'),
    svc('scache', 'unix', '-', '-', '1', 'scache'),
    svc('postlog', 'unix-dgram', 'n', '-', '1', 'postlogd'),
    '',
  ].join('\n'));
  const sinks: ChildProcess[] = [
    spawn(SMTP_SINK, ['-u', 'postfix', '-c', `127.0.0.1:${o.acceptPort}`, '100'], { stdio: 'ignore' }),
    spawn(SMTP_SINK, ['-u', 'postfix', '-f', 'RCPT', '-B', '550 5.1.1 Recipient address rejected: User unknown', `127.0.0.1:${o.rejectPort}`, '100'], { stdio: 'ignore' }),
  ];
  const run = (...args: string[]) => spawnSync(POSTFIX, ['-c', conf, ...args], { encoding: 'utf8', env: { ...process.env, MAIL_CONFIG: conf } });
  const log = () => spawnSync('cat', [`${dir}/maillog`], { encoding: 'utf8' }).stdout ?? '';
  run('set-permissions', 'create-missing');
  const started = run('start');
  if (started.status !== 0) {
    for (const s of sinks) s.kill();
    throw new Error(`postfix start failed (${started.status}): ${started.stderr}${started.stdout}\n${log()}`);
  }
  return {
    port: o.port,
    log,
    async stop() {
      run('stop');
      for (const s of sinks) s.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
