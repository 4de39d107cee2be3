import SMTPConnection from 'nodemailer/lib/smtp-connection';

// A channel's SMTP connections: up to `size` of nodemailer's SMTPConnection, opened when a send
// needs one, reused while they stay up, each sending one mail at a time; sends beyond that wait
// here in order.
//
// Why not nodemailer's own pool (createTransport({ pool: true })): it takes mail options, not bytes.
// Handed a mail already rendered (`raw`), it still wraps it in a MailMessage, compiles a MimeNode
// around it and streams that through a pipeline of transforms before SMTPConnection sees it:
// bench/email.ts profiled that at ~12% of the worker's time (compile, createReadStream and the pool's
// bookkeeping). SMTPConnection is the protocol client that pool is built on (documented by
// nodemailer; STARTTLS, AUTH, PIPELINING, DSN and the reply codes stay its job), and its send()
// takes a Buffer; what is left here is which connection is free, which is what the pool did.
//
// A connection the server ends while idle (an idle timeout) is dropped as soon as its 'end' arrives,
// so the next send opens a fresh one. A server that drops it in the instant a send starts fails that
// send with a retryable error, and the dispatcher's backoff sends it again.

export type Envelope = SMTPConnection.Envelope;
export type Sent = SMTPConnection.SentMessageInfo;
export type SmtpError = SMTPConnection.SMTPError & { rejectedErrors?: SMTPConnection.SMTPError[] };

export interface PoolOptions {
  size: number;
  connection: SMTPConnection.Options;
  auth?: { user: string; pass: string };
}

export class SmtpPool {
  private readonly idle: SMTPConnection[] = [];
  private readonly waiting: Array<{ resolve: (c: SMTPConnection) => void; reject: (e: Error) => void }> = [];
  /** Opened or opening, not yet discarded. */
  private readonly live = new Set<SMTPConnection>();
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  /** Sends one rendered mail; rejects with nodemailer's SMTPError (code, responseCode, response). */
  async send(envelope: Envelope, raw: Buffer): Promise<Sent> {
    const conn = await this.acquire();
    return new Promise<Sent>((resolve, reject) => {
      conn.send(envelope, raw, (err, info) => {
        if (!err) {
          this.release(conn);
          return resolve(info);
        }
        const e = err as SmtpError;
        // The server refused this mail (envelope or data) on a connection that is still sound:
        // RSET and keep it, as nodemailer's pool does. Anything else (421, a drop, a timeout) ends it.
        if ((e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && e.responseCode !== 421) {
          conn.reset((resetErr) => (resetErr ? this.discard(conn) : this.release(conn)));
        } else this.discard(conn);
        reject(e);
      });
    });
  }

  /** Ends every connection; sends still waiting for one are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(closedError());
    for (const c of this.idle.splice(0)) c.quit();
  }

  private acquire(): Promise<SMTPConnection> {
    if (this.closed) return Promise.reject(closedError());
    const ready = this.idle.pop();
    if (ready) return Promise.resolve(ready);
    const queued = new Promise<SMTPConnection>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (this.live.size < this.options.size) this.open();
    return queued;
  }

  private release(conn: SMTPConnection): void {
    if (!this.live.has(conn)) return;
    if (this.closed) return conn.quit();
    const next = this.waiting.shift();
    if (next) next.resolve(conn);
    else this.idle.push(conn);
  }

  /** A connection that is gone or no longer trusted: forgotten, and one opened for whoever waits. */
  private discard(conn: SMTPConnection): void {
    const at = this.idle.indexOf(conn);
    if (at >= 0) this.idle.splice(at, 1);
    if (!this.live.delete(conn)) return;
    conn.close();
    if (this.waiting.length > 0 && !this.closed) this.open();
  }

  /**
   * Opens a connection for the first send in line. If it fails, that send (only) gets the error:
   * the others keep waiting for a connection that frees up or for the next open, so one refused
   * connect does not fail the whole queue at once.
   */
  private open(): void {
    const conn = new SMTPConnection(this.options.connection);
    this.live.add(conn);
    let settled = false;
    const fail = (err: Error) => {
      if (!settled) {
        settled = true;
        this.waiting.shift()?.reject(err);
      }
      this.discard(conn);
    };
    // Errors of an idle connection must be listened for (an unhandled 'error' would end the
    // process); during a send the send's callback gets the same error and decides.
    conn.on('error', (err) => fail(err));
    conn.once('end', () => fail(Object.assign(new Error('Connection closed before it was ready'), { code: 'ECONNECTION' })));
    conn.connect((err) => {
      if (err) return fail(err);
      const ready = () => {
        if (settled) return;
        settled = true;
        this.release(conn);
      };
      // As nodemailer's pool: credentials are offered only to a server that announces AUTH.
      const auth = this.options.auth;
      if (auth && conn.allowsAuth) {
        conn.login(auth, (loginErr) => (loginErr ? fail(loginErr) : ready()));
      } else ready();
    });
  }
}

function closedError(): Error {
  return Object.assign(new Error('SMTP pool closed'), { code: 'ECONNECTION' });
}
