// One typed config. Every option has a default so `aviary serve` runs with zero settings; each can be
// set by environment variable or by command-line flag (flags win). The table below is also what
// `aviary help` prints and what README.md's configuration table documents (test/config.test.ts checks it),
// so an option cannot exist undocumented.

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  memory: boolean;
  databaseUrl: string | undefined;
  pgPoolSize: number;
  logLevel: string;
  bootstrap: boolean;
  publicUrl: string | undefined;
  bodyLimit: number;
  rateLimit: boolean;
  rateLimitGet: number;
  rateLimitPost: number;
  shutdownTimeoutMs: number;
  httpHeadersTimeoutMs: number;
  httpRequestTimeoutMs: number;
  httpKeepAliveTimeoutMs: number;
  httpMaxConnections: number | undefined;
  authFailureLimit: number;
  roles: Role[];
  workerConcurrency: number;
  dispatchBatchSize: number;
  dispatchLeaseMs: number;
  dispatchRetryBaseMs: number;
  dispatchMaxAttempts: number;
  dispatchPollMs: number;
  dispatchMaxInFlight: number;
  webhookAllowPrivateUrls: boolean;
  webhookTimeoutMs: number;
  webhookRetryBaseMs: number;
  webhookRetryMaxDelayMs: number;
  webhookRetryWindowMs: number;
  webhookConcurrency: number;
  webhookSocketsPerOrigin: number;
  webhookDisableAfterMs: number;
  webhookLogRetentionMs: number;
  mediaDir: string | undefined;
  mediaMaxBytes: number;
  mediaUploadTtlSeconds: number;
  mediaLinkTtlSeconds: number;
  mediaFetchTimeoutMs: number;
  mediaUploadMinRate: number;
  mediaUploadRateWindowMs: number;
  mediaUploadTimeoutMs: number;
  mediaAllowPrivateUrls: boolean;
  mediaSigningSecret: string | undefined;
  mediaS3Bucket: string | undefined;
  mediaS3Endpoint: string | undefined;
  mediaS3Region: string;
  mediaS3ForcePathStyle: boolean;
  mediaS3AccessKeyId: string | undefined;
  mediaS3SecretAccessKey: string | undefined;
  smtpListenPort: number | undefined;
  smtpListenHost: string;
  smtpTlsCert: string | undefined;
  smtpTlsKey: string | undefined;
  smtpMaxBytes: number;
  snapshotDir: string | undefined;
  restore: string | undefined;
  clock: 'real' | 'virtual';
}

export type Role = 'api' | 'worker';

interface Option<K extends keyof Config> {
  key: K;
  env: string;
  flag: string;
  default: Config[K];
  parse: (raw: string) => Config[K];
  doc: string;
}

const int = (name: string, min: number) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
};
const bool = (name: string) => (raw: string) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
};
const str = (raw: string) => raw;
const roles = (raw: string): Role[] => {
  const list = raw.split(',').map((r) => r.trim()).filter(Boolean);
  if (list.length === 0 || list.some((r) => r !== 'api' && r !== 'worker')) throw new ConfigError(`roles must be a comma-separated list of api, worker; got "${raw}"`);
  return [...new Set(list)] as Role[];
};
const clockMode = (raw: string): Config['clock'] => {
  if (raw !== 'real' && raw !== 'virtual') throw new ConfigError(`clock must be real or virtual, got "${raw}"`);
  return raw;
};
const optStr = (raw: string) => (raw === '' ? undefined : raw);
const optInt = (name: string, min: number) => (raw: string) => (raw.trim() === '' ? undefined : int(name, min)(raw));

export class ConfigError extends Error {}

function opt<K extends keyof Config>(o: Option<K>): Option<K> {
  return o;
}

export const OPTIONS = [
  opt({ key: 'host', env: 'AVIARY_HOST', flag: '--host', default: '127.0.0.1', parse: str, doc: 'Interface to listen on; 0.0.0.0 to accept outside connections.' }),
  opt({ key: 'port', env: 'PORT', flag: '--port', default: 8080, parse: int('port', 0), doc: 'HTTP port (0 picks a free one).' }),
  opt({ key: 'dataDir', env: 'AVIARY_DATA_DIR', flag: '--data-dir', default: './.aviary', parse: str, doc: 'Embedded PGlite data directory (ignored with DATABASE_URL or --memory). One process at a time: it is locked.' }),
  opt({ key: 'memory', env: 'AVIARY_MEMORY', flag: '--memory', default: false, parse: bool('memory'), doc: 'Keep everything in memory (PGlite, nothing written to disk): for tests and throwaway emulators.' }),
  opt({ key: 'databaseUrl', env: 'DATABASE_URL', flag: '--database-url', default: undefined, parse: optStr, doc: 'PostgreSQL connection string; when set, PostgreSQL is used instead of PGlite and any number of processes may share it.' }),
  opt({ key: 'pgPoolSize', env: 'AVIARY_PG_POOL_SIZE', flag: '--pg-pool-size', default: 10, parse: int('pgPoolSize', 1), doc: 'Maximum PostgreSQL connections per process.' }),
  opt({ key: 'logLevel', env: 'AVIARY_LOG_LEVEL', flag: '--log-level', default: 'info', parse: str, doc: 'pino log level: fatal, error, warn, info, debug, trace or silent.' }),
  opt({ key: 'bootstrap', env: 'AVIARY_BOOTSTRAP', flag: '--bootstrap', default: true, parse: bool('bootstrap'), doc: 'On first start with an empty store, create an organization, workspace, access key and one sandbox channel per platform.' }),
  opt({ key: 'publicUrl', env: 'AVIARY_PUBLIC_URL', flag: '--public-url', default: undefined, parse: optStr, doc: 'Base URL clients reach this server at (used in printed examples); defaults to http://<host>:<port>.' }),
  opt({ key: 'bodyLimit', env: 'AVIARY_BODY_LIMIT', flag: '--body-limit', default: 1_048_576, parse: int('bodyLimit', 1024), doc: 'Largest accepted JSON request body in bytes; larger bodies get 413.' }),
  opt({ key: 'rateLimit', env: 'AVIARY_RATE_LIMIT', flag: '--rate-limit', default: true, parse: bool('rateLimit'), doc: "Enforce Bird's per-workspace request rate limits (429 beyond them)." }),
  opt({ key: 'rateLimitGet', env: 'AVIARY_RATE_LIMIT_GET', flag: '--rate-limit-get', default: 50, parse: int('rateLimitGet', 1), doc: 'GET requests per second per workspace (Bird: 50).' }),
  opt({ key: 'rateLimitPost', env: 'AVIARY_RATE_LIMIT_POST', flag: '--rate-limit-post', default: 500, parse: int('rateLimitPost', 1), doc: 'POST/PATCH/DELETE requests per second per workspace (Bird: 500).' }),
  opt({ key: 'shutdownTimeoutMs', env: 'AVIARY_SHUTDOWN_TIMEOUT_MS', flag: '--shutdown-timeout-ms', default: 10_000, parse: int('shutdownTimeoutMs', 0), doc: 'How long SIGTERM/SIGINT waits for in-flight requests before closing anyway.' }),
  opt({ key: 'httpHeadersTimeoutMs', env: 'AVIARY_HTTP_HEADERS_TIMEOUT_MS', flag: '--http-headers-timeout-ms', default: 10_000, parse: int('httpHeadersTimeoutMs', 100), doc: 'Longest a client may take to send the request line and headers (from connecting, or from the start of the next request); then the connection is closed.' }),
  opt({ key: 'httpRequestTimeoutMs', env: 'AVIARY_HTTP_REQUEST_TIMEOUT_MS', flag: '--http-request-timeout-ms', default: 30_000, parse: int('httpRequestTimeoutMs', 100), doc: 'Longest a client may take to send a whole request, headers and body (408, connection closed). Uploads to POST /media have a byte-rate floor instead (--media-upload-min-rate).' }),
  opt({ key: 'httpKeepAliveTimeoutMs', env: 'AVIARY_HTTP_KEEP_ALIVE_TIMEOUT_MS', flag: '--http-keep-alive-timeout-ms', default: 5_000, parse: int('httpKeepAliveTimeoutMs', 1), doc: "How long an idle kept-alive connection stays open between requests. Behind a load balancer, set it above the balancer's idle timeout (AWS ALB: 60 s)." }),
  opt({ key: 'httpMaxConnections', env: 'AVIARY_HTTP_MAX_CONNECTIONS', flag: '--http-max-connections', default: undefined, parse: optInt('httpMaxConnections', 1), doc: 'Open client connections beyond which new ones are closed at once; default: the open-file soft limit minus what the database pool, webhook sockets and files need (see docs/operations.md).' }),
  opt({ key: 'authFailureLimit', env: 'AVIARY_AUTH_FAILURE_LIMIT', flag: '--auth-failure-limit', default: 60, parse: int('authFailureLimit', 0), doc: 'Requests with an unknown or revoked access key allowed per client address per minute (burst of as many); beyond, 429 without a database lookup. 0: no limit.' }),
  opt({ key: 'roles', env: 'AVIARY_ROLES', flag: '--roles', default: ['api', 'worker'] as Role[], parse: roles, doc: 'What this process does: api (HTTP), worker (dispatch and provider events), or both. Several worker processes may share one PostgreSQL.' }),
  opt({ key: 'workerConcurrency', env: 'AVIARY_WORKER_CONCURRENCY', flag: '--worker-concurrency', default: 2, parse: int('workerConcurrency', 1), doc: 'Dispatch loops per worker process (on PGlite they share its single session).' }),
  opt({ key: 'dispatchBatchSize', env: 'AVIARY_DISPATCH_BATCH_SIZE', flag: '--dispatch-batch-size', default: 200, parse: int('dispatchBatchSize', 1), doc: 'Messages (and provider events) claimed per round.' }),
  opt({ key: 'dispatchLeaseMs', env: 'AVIARY_DISPATCH_LEASE_MS', flag: '--dispatch-lease-ms', default: 30_000, parse: int('dispatchLeaseMs', 100), doc: 'How long a claimed message is held; after a crash it is retried once this has passed.' }),
  opt({ key: 'dispatchRetryBaseMs', env: 'AVIARY_DISPATCH_RETRY_BASE_MS', flag: '--dispatch-retry-base-ms', default: 1_000, parse: int('dispatchRetryBaseMs', 0), doc: 'First retry delay after a transient connector error; doubles each attempt (capped at 10 minutes).' }),
  opt({ key: 'dispatchMaxAttempts', env: 'AVIARY_DISPATCH_MAX_ATTEMPTS', flag: '--dispatch-max-attempts', default: 10, parse: int('dispatchMaxAttempts', 1), doc: "Send attempts before a message is sending_failed (Bird: 10)." }),
  opt({ key: 'dispatchMaxInFlight', env: 'AVIARY_DISPATCH_MAX_IN_FLIGHT', flag: '--dispatch-max-in-flight', default: 2_000, parse: int('dispatchMaxInFlight', 1), doc: 'Messages a worker process holds claimed and not yet recorded, across all channels (its memory bound whatever the backlog); each channel holds at most two of its session windows of them.' }),
  opt({ key: 'dispatchPollMs', env: 'AVIARY_DISPATCH_POLL_MS', flag: '--dispatch-poll-ms', default: 1_000, parse: int('dispatchPollMs', 10), doc: 'Longest a worker sleeps without a wake-up; new work wakes it at once (in-process signal, LISTEN/NOTIFY).' }),
  opt({ key: 'mediaDir', env: 'AVIARY_MEDIA_DIR', flag: '--media-dir', default: undefined, parse: optStr, doc: 'Where uploaded and received media are stored when no S3 bucket is set; default <data-dir>/media (a temporary directory with --memory).' }),
  opt({ key: 'mediaMaxBytes', env: 'AVIARY_MEDIA_MAX_BYTES', flag: '--media-max-bytes', default: 104_857_600, parse: int('mediaMaxBytes', 1), doc: 'Largest media file in bytes, for uploads and for fetched media (Bird: 100 MiB).' }),
  opt({ key: 'mediaUploadTtlSeconds', env: 'AVIARY_MEDIA_UPLOAD_TTL', flag: '--media-upload-ttl', default: 3600, parse: int('mediaUploadTtlSeconds', 1), doc: 'How long a presigned upload accepts its file, in seconds.' }),
  opt({ key: 'mediaLinkTtlSeconds', env: 'AVIARY_MEDIA_LINK_TTL', flag: '--media-link-ttl', default: 3600, parse: int('mediaLinkTtlSeconds', 1), doc: 'How long a signed media link handed to a connector (for a provider to download) stays valid, in seconds.' }),
  opt({ key: 'mediaFetchTimeoutMs', env: 'AVIARY_MEDIA_FETCH_TIMEOUT_MS', flag: '--media-fetch-timeout-ms', default: 30_000, parse: int('mediaFetchTimeoutMs', 1), doc: 'Longest a fetch of an external media URL may take, headers and body.' }),
  opt({ key: 'mediaUploadMinRate', env: 'AVIARY_MEDIA_UPLOAD_MIN_RATE', flag: '--media-upload-min-rate', default: 4096, parse: int('mediaUploadMinRate', 0), doc: 'Slowest upload to POST /media accepted, in bytes per second averaged over --media-upload-rate-window-ms; slower uploads are aborted (408). 0: no floor.' }),
  opt({ key: 'mediaUploadRateWindowMs', env: 'AVIARY_MEDIA_UPLOAD_RATE_WINDOW_MS', flag: '--media-upload-rate-window-ms', default: 20_000, parse: int('mediaUploadRateWindowMs', 100), doc: 'The sliding window over which the upload byte rate is measured: a stall shorter than this is forgiven.' }),
  opt({ key: 'mediaUploadTimeoutMs', env: 'AVIARY_MEDIA_UPLOAD_TIMEOUT_MS', flag: '--media-upload-timeout-ms', default: 3_600_000, parse: int('mediaUploadTimeoutMs', 100), doc: 'Longest an upload to POST /media may take in all, however fast it is going.' }),
  opt({ key: 'mediaAllowPrivateUrls', env: 'AVIARY_MEDIA_ALLOW_PRIVATE_URLS', flag: '--media-allow-private-urls', default: false, parse: bool('mediaAllowPrivateUrls'), doc: 'Let media fetches reach loopback and private addresses (development and tests only).' }),
  opt({ key: 'mediaSigningSecret', env: 'AVIARY_MEDIA_SIGNING_SECRET', flag: '--media-signing-secret', default: undefined, parse: optStr, doc: 'Key that signs upload policies and media links; default: a random key generated once and kept in the store.' }),
  opt({ key: 'mediaS3Bucket', env: 'AVIARY_MEDIA_S3_BUCKET', flag: '--media-s3-bucket', default: undefined, parse: optStr, doc: "Store media in this S3 bucket instead of the local directory; uploads then go straight to the store with its own presigned POST." }),
  opt({ key: 'mediaS3Endpoint', env: 'AVIARY_MEDIA_S3_ENDPOINT', flag: '--media-s3-endpoint', default: undefined, parse: optStr, doc: 'Endpoint of an S3-compatible store (MinIO, Ceph, R2, ...); default AWS S3.' }),
  opt({ key: 'mediaS3Region', env: 'AVIARY_MEDIA_S3_REGION', flag: '--media-s3-region', default: 'us-east-1', parse: str, doc: 'Region of the S3 bucket.' }),
  opt({ key: 'mediaS3ForcePathStyle', env: 'AVIARY_MEDIA_S3_FORCE_PATH_STYLE', flag: '--media-s3-force-path-style', default: false, parse: bool('mediaS3ForcePathStyle'), doc: 'Address the bucket as <endpoint>/<bucket> instead of <bucket>.<endpoint> (most S3-compatible stores).' }),
  opt({ key: 'mediaS3AccessKeyId', env: 'AVIARY_MEDIA_S3_ACCESS_KEY_ID', flag: '--media-s3-access-key-id', default: undefined, parse: optStr, doc: "S3 access key id; default the AWS SDK's credential chain (AWS_ACCESS_KEY_ID, profiles, instance roles)." }),
  opt({ key: 'mediaS3SecretAccessKey', env: 'AVIARY_MEDIA_S3_SECRET_ACCESS_KEY', flag: '--media-s3-secret-access-key', default: undefined, parse: optStr, doc: 'S3 secret access key, with --media-s3-access-key-id (prefer the environment variable to the flag).' }),
  opt({ key: 'smtpListenPort', env: 'AVIARY_SMTP_LISTEN_PORT', flag: '--smtp-listen-port', default: undefined, parse: optInt('smtpListenPort', 0), doc: "Port of Aviary's SMTP listener, for inbound email and bounces of smtp channels; unset: no listener. It opens only while a channel has inbound config." }),
  opt({ key: 'smtpListenHost', env: 'AVIARY_SMTP_LISTEN_HOST', flag: '--smtp-listen-host', default: '127.0.0.1', parse: str, doc: 'Interface the SMTP listener binds; 0.0.0.0 to receive mail from outside.' }),
  opt({ key: 'smtpTlsCert', env: 'AVIARY_SMTP_TLS_CERT', flag: '--smtp-tls-cert', default: undefined, parse: optStr, doc: 'PEM certificate file the SMTP listener offers with STARTTLS (with --smtp-tls-key); unset: no STARTTLS.' }),
  opt({ key: 'smtpTlsKey', env: 'AVIARY_SMTP_TLS_KEY', flag: '--smtp-tls-key', default: undefined, parse: optStr, doc: 'PEM private key file for --smtp-tls-cert.' }),
  opt({ key: 'smtpMaxBytes', env: 'AVIARY_SMTP_MAX_BYTES', flag: '--smtp-max-bytes', default: 26_214_400, parse: int('smtpMaxBytes', 1024), doc: 'Largest inbound email in bytes (SIZE); larger mail is refused with 552.' }),
  opt({ key: 'snapshotDir', env: 'AVIARY_SNAPSHOT_DIR', flag: '--snapshot-dir', default: undefined, parse: optStr, doc: 'Directory for snapshots of the whole state (POST /sandbox/snapshots); unset: snapshots are off. Files hold the database\'s secrets: keep the directory private.' }),
  opt({ key: 'restore', env: 'AVIARY_RESTORE', flag: '--restore', default: undefined, parse: optStr, doc: 'On start, replace the whole store with this snapshot from --snapshot-dir (no bootstrap).' }),
  opt({ key: 'clock', env: 'AVIARY_CLOCK', flag: '--clock', default: 'real' as Config['clock'], parse: clockMode, doc: 'real, or virtual: time stands still until POST /sandbox/clock moves it, and what falls due on the way happens in order (an emulator for tests; one process).' }),
  opt({ key: 'webhookAllowPrivateUrls', env: 'AVIARY_WEBHOOK_ALLOW_PRIVATE_URLS', flag: '--webhook-allow-private-urls', default: true, parse: bool('webhookAllowPrivateUrls'), doc: 'Accept webhook URLs that are http, IP addresses, or on loopback/private networks (development and emulator use). Set false in production: URLs must then be https with a domain name (as Bird requires) and are refused, at creation and at every delivery, if they resolve to a non-public address.' }),
  opt({ key: 'webhookTimeoutMs', env: 'AVIARY_WEBHOOK_TIMEOUT_MS', flag: '--webhook-timeout-ms', default: 15_000, parse: int('webhookTimeoutMs', 100), doc: 'How long one webhook attempt may take (connect, send, answer) before it counts as failed and is retried.' }),
  opt({ key: 'webhookRetryBaseMs', env: 'AVIARY_WEBHOOK_RETRY_BASE_MS', flag: '--webhook-retry-base-ms', default: 10_000, parse: int('webhookRetryBaseMs', 1), doc: 'Delay before the first webhook retry; doubles after each failed attempt (Retry-After on 429/503 is honoured when longer).' }),
  opt({ key: 'webhookRetryMaxDelayMs', env: 'AVIARY_WEBHOOK_RETRY_MAX_DELAY_MS', flag: '--webhook-retry-max-delay-ms', default: 3_600_000, parse: int('webhookRetryMaxDelayMs', 1), doc: 'Longest delay between two webhook attempts.' }),
  opt({ key: 'webhookRetryWindowMs', env: 'AVIARY_WEBHOOK_RETRY_WINDOW_MS', flag: '--webhook-retry-window-ms', default: 28_800_000, parse: int('webhookRetryWindowMs', 0), doc: 'How long after the event a webhook keeps being retried (Bird: 8 hours); then the request has failed.' }),
  opt({ key: 'webhookConcurrency', env: 'AVIARY_WEBHOOK_CONCURRENCY', flag: '--webhook-concurrency', default: 256, parse: int('webhookConcurrency', 1), doc: 'Webhook requests in flight per worker process (at most half of them to one subscription); also the keep-alive sockets per origin.' }),
  opt({ key: 'webhookSocketsPerOrigin', env: 'AVIARY_WEBHOOK_SOCKETS_PER_ORIGIN', flag: '--webhook-sockets-per-origin', default: 64, parse: int('webhookSocketsPerOrigin', 1), doc: 'Keep-alive connections per webhook origin (scheme, host, port) per worker process; requests beyond them wait for a free one.' }),
  opt({ key: 'webhookDisableAfterMs', env: 'AVIARY_WEBHOOK_DISABLE_AFTER_MS', flag: '--webhook-disable-after-ms', default: 259_200_000, parse: int('webhookDisableAfterMs', 0), doc: 'A subscription whose every delivery attempt failed for this long is made inactive (status inactive, statusReason says why); 0 never.' }),
  opt({ key: 'webhookLogRetentionMs', env: 'AVIARY_WEBHOOK_LOG_RETENTION_MS', flag: '--webhook-log-retention-ms', default: 604_800_000, parse: int('webhookLogRetentionMs', 60_000), doc: 'How long finished webhook requests stay in the logs (Bird: 7 days).' }),
] as const;

export function defaultConfig(): Config {
  const c = {} as Record<string, unknown>;
  for (const o of OPTIONS) c[o.key] = o.default;
  return c as unknown as Config;
}

/** Builds the config from defaults, then the environment, then `--flag value` / `--flag=value` arguments. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: string[] = [], overrides: Partial<Config> = {}): Config {
  const c = defaultConfig() as unknown as Record<string, unknown>;
  for (const o of OPTIONS) {
    const raw = env[o.env];
    if (raw !== undefined && raw !== '') c[o.key] = o.parse(raw);
  }
  const flags = parseFlags(argv);
  for (const o of OPTIONS) {
    const raw = flags.get(o.flag);
    if (raw !== undefined) c[o.key] = o.parse(raw);
  }
  for (const name of flags.keys()) {
    if (!OPTIONS.some((o) => o.flag === name)) throw new ConfigError(`unknown option ${name} (see \`aviary help\`)`);
  }
  return { ...(c as unknown as Config), ...overrides };
}

const BOOLEAN_FLAGS = new Set(OPTIONS.filter((o) => typeof o.default === 'boolean').map((o) => o.flag));

function parseFlags(argv: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    if (eq > 0) flags.set(arg.slice(0, eq), arg.slice(eq + 1));
    else if (BOOLEAN_FLAGS.has(arg) && !/^(true|false|yes|no|on|off|1|0)$/i.test(argv[i + 1] ?? '')) flags.set(arg, 'true');
    else if (arg.startsWith('--no-') && BOOLEAN_FLAGS.has(`--${arg.slice(5)}`)) flags.set(`--${arg.slice(5)}`, 'false');
    else {
      if (argv[i + 1] === undefined) throw new ConfigError(`option ${arg} needs a value`);
      flags.set(arg, argv[++i]);
    }
  }
  return flags;
}

export function describeOptions(): string {
  return OPTIONS.map((o) => `  ${o.flag.padEnd(24)} ${o.env.padEnd(28)} default: ${JSON.stringify(o.default) ?? '(unset)'}\n      ${o.doc}`).join('\n');
}
