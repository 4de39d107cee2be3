import { createHash } from 'node:crypto';
import pg from 'pg';

// Every parameterised statement runs as a named prepared statement, prepared on each connection the
// first time it runs there and reused after: PostgreSQL parses and analyses it once per connection
// instead of on every execution. Kysely has no notion of prepared statements, so the client does it:
// the statement's text is its identity, named by a hash.
//
// Plans are still made for every execution (plan_cache_mode = force_custom_plan on these connections):
// with PostgreSQL's default, a statement run five times may switch to a generic plan, one made without
// the parameters' values, and for queries whose best plan depends on them (`next_attempt_at <= $1`)
// that was worse (bench smpp-pipeline: PostgreSQL 0.72 -> 1.02 ms of CPU a message, the sandbox run
// 1,154 -> 953 msgs/s). With custom plans it is 0.72 -> 0.63 ms and 1,166 msgs/s; smpp-drain 0.55 ->
// 0.50 ms. A plan_cache_mode in DATABASE_URL's `options` replaces ours. The exception is the
// dispatcher's claim, which costs more to plan than to run: GenericPlanClient below.
//
// The trade-offs:
// - A prepared statement lives in its connection's server memory until the connection closes; only
//   the first MAX_NAMED distinct texts of a process are named (statements whose text varies with the
//   number of values, such as an `in (...)` list, would otherwise grow that without bound).
// - A migration that changes a table's row type under a running process makes its prepared
//   statements that return that row fail once ("cached plan must not change result type"); the
//   connection then runs unprepared, so the retry the caller makes (a request's 5xx, a worker's next
//   round) succeeds.
// Statements without parameters (begin, commit, migrations with several commands) run as before.
// docs/operations.md says what this asks of a connection pooler in between.

const MAX_NAMED = 500;
const names = new Map<string, string>();

function nameOf(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMED) {
    name = `aviary_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

const PLAN_CHANGED = 'cached plan must not change result type';

/** pg's Client, preparing parameterised statements by name (pg.Pool's `Client` option). */
export class PreparingClient extends pg.Client {
  private unprepared = false;

  constructor(config: pg.ClientConfig = {}, settings = '-c plan_cache_mode=force_custom_plan') {
    super({ ...config, options: [config.options, settings].filter(Boolean).join(' ') });
  }

  // pg's query() has many overloads; Kysely calls query(text, values) and awaits the promise.
  override query(...args: any[]): any {
    const [text, values] = args;
    if (this.unprepared || typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || args.length !== 2) {
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    const name = nameOf(text);
    if (name === undefined) return (super.query as (...a: unknown[]) => unknown)(...args);
    return (super.query({ name, text, values }) as Promise<unknown>).catch((err: Error) => {
      if (err?.message?.includes(PLAN_CHANGED)) this.unprepared = true;
      throw err;
    });
  }
}

/**
 * A PreparingClient whose plans are made once per statement and connection: for statements that cost
 * more to plan than to run and are written to walk indexes whatever their values (database.ts
 * `claims`). Sequential scans are off on these connections: a generic plan is made at a statement's
 * first run, and one made while a table was still small (a new database) joined it by a sequential
 * scan, which then grew with the table (bench send-latency: the claim's execution went from 0.7 to
 * 5.8 ms, its UPDATE hash-joined over a scan of every message). Without the choice, the plan is the
 * index walk it is written as, however small the table was.
 */
export class GenericPlanClient extends PreparingClient {
  constructor(config: pg.ClientConfig = {}) {
    super(config, '-c plan_cache_mode=force_generic_plan -c enable_seqscan=off');
  }
}
