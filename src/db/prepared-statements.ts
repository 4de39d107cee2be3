import { createHash } from 'node:crypto';
import pg from 'pg';

// Every parameterised statement runs as a named prepared statement, prepared on each connection the
// first time it runs there and reused after. PostgreSQL then parses and analyses a statement once per
// connection instead of on every execution, and may keep its plan: for Aviary's small, frequent
// statements (a claim's CTE, a group commit's insert) parse and plan were most of what the server
// spent on them (bench smpp-drain: PostgreSQL 0.55 -> 0.44 ms of CPU a message; send-latency p50
// 19 -> 15 ms). Kysely has no notion of prepared statements, so the client does it: the statement's
// text is its identity, named by a hash.
//
// The trade-offs:
// - A prepared statement lives in its connection's server memory until the connection closes; only
//   the first MAX_NAMED distinct texts of a process are named (statements whose text varies with the
//   number of values, such as an `in (...)` list, would otherwise grow that without bound).
// - Plans follow PostgreSQL's plan_cache_mode (default auto: custom plans for the first five runs,
//   then a generic plan only if it is estimated no worse). Set it per role or database if a query
//   suffers (`alter role aviary set plan_cache_mode = force_custom_plan` keeps the parse saving).
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
