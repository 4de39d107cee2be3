import type { Channel } from '../../channels/channels.ts';
import type { ConnectorContext, OutboundMessage, ProviderEvent, SendResult, Session } from '../connector.ts';
import { failures, type Failure } from '../failures.ts';
import type { SmppConfig } from './config-schema.ts';
import { encodeText, type PartFields } from './encode.ts';
import { inboundEvent } from './inbound.ts';
import { coalesceWrites, smpp } from './raw-pdu.ts';
import { receiptEvent } from './receipts.ts';
import { hex, isThrottle, submitFailure } from './submit-status.ts';
import type { PDU, Session as Link } from 'smpp';

// One bind (or a transmitter + receiver pair) to an SMSC, kept up for as long as the channel is
// active. The link reconnects by itself with backoff; sends wait for it (bounded by the runtime's
// AbortSignal). The window counts PDUs, not messages: a long SMS takes one slot per part, and a slot
// is freed only when the SMSC answered, the response timed out or the link dropped, never on abort,
// so the SMSC never sees more than windowSize outstanding submit_sm.
//
// Two answers are handled here rather than handed back to the runtime, because handing them back
// would resend every part of a long SMS: a throttle (ESME_RTHROTTLED / ESME_RMSGQFUL) pauses the
// whole session and the part is submitted again; a link that drops before a part was answered gets
// that part submitted again on the new bind (at-least-once: the SMSC may have taken it). Both only
// while the send's signal allows; then the result is a throttled or retryable failure.

const BIND_REFUSED = new Set([0x0d, 0x0e, 0x0f]);
const ESME_RX_T_APPN = 0x64;
const ESME_RX_P_APPN = 0x65;
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10_000;
const FIRST_THROTTLE_MS = 100;
const MAX_THROTTLE_MS = 5_000;

type Failed = Extract<SendResult, { ok: false }>;
type Attempt = { kind: 'ok'; id: string } | { kind: 'failed'; result: Failed } | { kind: 'throttled'; result: Failed } | { kind: 'dropped' };

interface Waiter {
  resolve: (link: Link | undefined) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

export class SmppSession implements Session {
  readonly window: number;
  readonly ratePerSecond?: number;
  private readonly source: string;
  private links: Link[] = [];
  private bound = false;
  private closed = false;
  private bindFailure?: Failure;
  private backoffMs = FIRST_BACKOFF_MS;
  private throttleMs = 0;
  private pausedUntil = 0;
  private nextSendAt = 0;
  private reconnectTimer?: NodeJS.Timeout;
  private pumpTimer?: NodeJS.Timeout;
  private enquireTimer?: NodeJS.Timeout;
  private enquireTimeouts = new Set<NodeJS.Timeout>();
  private inFlight = 0;
  private waiters: Waiter[] = [];
  private outstanding = new Map<Link, Set<(a: Attempt) => void>>();
  private ref = Math.floor(Math.random() * 0xffff);

  constructor(private readonly config: SmppConfig, channel: Channel, private readonly ctx: ConnectorContext) {
    this.window = config.windowSize;
    this.ratePerSecond = config.throughputPerSecond;
    this.source = channel.platformId;
  }

  start(): void {
    if (this.closed) return;
    const modes = this.config.bindMode === 'transceiver' ? ['bind_transceiver'] : ['bind_transmitter', 'bind_receiver'];
    const links = modes.map(() => smpp.connect({ host: this.config.host, port: this.config.port }));
    this.links = links;
    let boundCount = 0;
    links.forEach((link, i) => {
      // PDUs are small and answered one by one: Nagle's algorithm would hold each behind the last ACK.
      link.socket.setNoDelay(true);
      coalesceWrites(link);
      this.outstanding.set(link, new Set());
      link.on('connect', () => {
        const bind = { system_id: this.config.systemId, password: this.config.password ?? '', system_type: this.config.systemType, interface_version: 0x34 };
        link[modes[i]](bind, (pdu: PDU) => {
          if (this.links !== links) return;
          if (pdu.command_status !== 0) {
            this.ctx.log.warn({ host: this.config.host, systemId: this.config.systemId, status: hex(pdu.command_status) }, 'smpp bind refused');
            if (BIND_REFUSED.has(pdu.command_status)) {
              this.bindFailure = failures.invalidChannelConfiguration(`the SMSC refused the bind (${hex(pdu.command_status)})`);
              this.bindFailure.source = { name: this.source, code: hex(pdu.command_status) };
              this.failWaiters();
            }
            this.drop(links);
            return;
          }
          if (++boundCount < links.length) return;
          this.bound = true;
          this.bindFailure = undefined;
          this.backoffMs = FIRST_BACKOFF_MS;
          this.ctx.log.info({ host: this.config.host, port: this.config.port, systemId: this.config.systemId, mode: this.config.bindMode }, 'smpp bound');
          this.startEnquireLink(links);
          this.pump();
        });
      });
      link.on('deliver_sm', (pdu: PDU) => this.onDeliver(link, pdu));
      link.on('data_sm', (pdu: PDU) => this.onDeliver(link, pdu));
      link.on('enquire_link', (pdu: PDU) => link.send(pdu.response()));
      link.on('unbind', (pdu: PDU) => {
        link.send(pdu.response());
        this.drop(links);
      });
      link.on('error', (err: Error) => {
        this.ctx.log.warn({ err: err.message, host: this.config.host }, 'smpp link error');
        this.drop(links);
      });
      link.on('close', () => this.drop(links));
    });
  }

  private startEnquireLink(links: Link[]): void {
    clearInterval(this.enquireTimer);
    this.enquireTimer = setInterval(() => {
      for (const link of links) {
        // An unanswered enquire_link means a dead link that TCP has not noticed yet.
        const timer = setTimeout(() => {
          this.enquireTimeouts.delete(timer);
          this.ctx.log.warn({ host: this.config.host }, 'smpp enquire_link unanswered; dropping the link');
          this.drop(links);
        }, this.config.responseTimeoutMs);
        this.enquireTimeouts.add(timer);
        link.enquire_link({}, () => {
          clearTimeout(timer);
          this.enquireTimeouts.delete(timer);
        });
      }
    }, this.config.enquireLinkSeconds * 1000);
    this.enquireTimer.unref();
  }

  /** Link lost: parts awaiting their submit_sm_resp are told so (submitPart resubmits them). */
  private drop(links: Link[]): void {
    if (this.links !== links) return;
    this.links = [];
    this.bound = false;
    clearInterval(this.enquireTimer);
    for (const t of this.enquireTimeouts) clearTimeout(t);
    this.enquireTimeouts.clear();
    for (const link of links) {
      const pending = this.outstanding.get(link);
      this.outstanding.delete(link);
      for (const settle of pending ?? []) settle({ kind: 'dropped' });
      link.removeAllListeners('close');
      link.on('error', () => {});
      link.destroy();
    }
    if (this.closed) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.ctx.log.info({ host: this.config.host, retryInMs: delay }, 'smpp link down; reconnecting');
    this.reconnectTimer = setTimeout(() => this.start(), delay);
  }

  private onDeliver(link: Link, pdu: PDU): void {
    const type = (pdu.esm_class ?? 0) & 0x3c;
    let events: ProviderEvent[];
    try {
      // 0x04 SMSC delivery receipt, 0x20 intermediate notification; SME acknowledgements (0x08, 0x10) carry nothing for us.
      if (type === 0x04 || type === 0x20) events = [receiptEvent(pdu, this.config, this.source)];
      else if (type === 0) events = [inboundEvent(pdu, this.config)];
      else events = [];
    } catch (err) {
      // Unreadable: a permanent refusal, so the SMSC does not redeliver it forever.
      this.ctx.log.warn({ err: (err as Error).message }, 'smpp deliver_sm not understood');
      link.send(pdu.response({ command_status: ESME_RX_P_APPN }));
      return;
    }
    // Acknowledge only once stored: a crash before this makes the SMSC redeliver, not lose it.
    this.ctx.report(events).then(
      () => link.send(pdu.response({ command_status: 0 })),
      (err) => {
        this.ctx.log.warn({ err: (err as Error).message }, 'smpp report failed; asking the SMSC to retry');
        link.send(pdu.response({ command_status: ESME_RX_T_APPN }));
      },
    );
  }

  private failWaiters(): void {
    for (const w of this.waiters.splice(0)) {
      w.signal.removeEventListener('abort', w.onAbort);
      w.resolve(undefined);
    }
  }

  /** Hands window slots to waiters while the link is bound, not paused by a throttle, and within the rate. */
  private pump(): void {
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    while (this.bound && this.inFlight < this.window && this.waiters.length) {
      const now = Date.now();
      const wait = Math.max(this.pausedUntil - now, this.nextSendAt - now);
      if (wait > 0) {
        this.pumpTimer = setTimeout(() => this.pump(), wait);
        return;
      }
      if (this.ratePerSecond) this.nextSendAt = Math.max(this.nextSendAt, now) + 1000 / this.ratePerSecond;
      const w = this.waiters.shift()!;
      w.signal.removeEventListener('abort', w.onAbort);
      this.inFlight++;
      w.resolve(this.links[0]);
    }
  }

  /** A window slot on the bound link (the transmitter); undefined: aborted, closed or the bind is refused. */
  private acquire(signal: AbortSignal): Promise<Link | undefined> {
    if (signal.aborted || this.closed || this.bindFailure) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const w: Waiter = {
        resolve,
        signal,
        onAbort: () => {
          this.waiters = this.waiters.filter((x) => x !== w);
          resolve(undefined);
        },
      };
      signal.addEventListener('abort', w.onAbort, { once: true });
      this.waiters.push(w);
      this.pump();
    });
  }

  private release(): void {
    this.inFlight--;
    this.pump();
  }

  /** One submit_sm on `link`. Settles early on abort; the window slot is held until the SMSC answers. */
  private submitOnce(link: Link, message: OutboundMessage, fields: PartFields, signal: AbortSignal): Promise<Attempt> {
    const recipient = message.recipients[0];
    const alpha = /[^+\d]/.test(message.sender);
    const pending = this.outstanding.get(link);
    return new Promise<Attempt>((resolve) => {
      let released = false;
      const settle = (a: Attempt) => {
        if (released) return;
        released = true;
        clearTimeout(timer);
        pending?.delete(settle);
        signal.removeEventListener('abort', onAbort);
        this.release();
        resolve(a);
      };
      const onAbort = () => resolve({ kind: 'failed', result: this.networkFailure('aborted', 'the send timed out before submit_sm_resp') });
      const timer = setTimeout(
        () => settle({ kind: 'failed', result: this.networkFailure('timeout', `no submit_sm_resp in ${this.config.responseTimeoutMs} ms`) }),
        this.config.responseTimeoutMs,
      );
      if (!pending) return settle({ kind: 'dropped' });
      signal.addEventListener('abort', onAbort, { once: true });
      pending.add(settle);
      const pdu = new smpp.PDU('submit_sm', {
        source_addr_ton: this.config.sourceTon ?? (alpha ? 5 : 1),
        source_addr_npi: this.config.sourceNpi ?? (alpha ? 0 : 1),
        source_addr: message.sender.replace(/^\+/, ''),
        dest_addr_ton: this.config.destTon,
        dest_addr_npi: this.config.destNpi,
        destination_addr: recipient.identifierValue.replace(/^\+/, ''),
        registered_delivery: 1,
        ...fields,
      });
      const sent = link.send(pdu, (resp: PDU) => {
        if (resp.command_status === 0) return settle({ kind: 'ok', id: this.referenceOf(String(resp.message_id ?? '')) });
        const result = submitFailure(resp.command_status, this.source);
        settle(isThrottle(resp.command_status) ? { kind: 'throttled', result } : { kind: 'failed', result });
      });
      if (!sent) settle({ kind: 'dropped' });
    });
  }

  /**
   * The reference kept for a part: the id as submit_sm_resp spelled it, except that hex ids (receipts
   * in decimal, see receiptIdFormat) are upper-cased, the case normaliseId gives the receipts' ids.
   */
  private referenceOf(id: string): string {
    return this.config.receiptIdFormat === 'decimal' ? id.toUpperCase() : id;
  }

  private networkFailure(reason: string, details: string): Failed {
    return { ok: false, retryable: true, failure: failures.networkError(this.source), reason, details };
  }

  private throttled(): void {
    // Every submit of the session waits, not just this one: the SMSC counts the bind's rate.
    this.throttleMs = Math.min(this.throttleMs ? this.throttleMs * 2 : FIRST_THROTTLE_MS, MAX_THROTTLE_MS);
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + this.throttleMs);
    this.ctx.log.info({ host: this.config.host, pauseMs: this.throttleMs }, 'smpp throttled by the SMSC; pausing');
  }

  private async submitPart(message: OutboundMessage, fields: PartFields, signal: AbortSignal): Promise<{ ok: true; id: string } | { ok: false; result: Failed }> {
    let last: Attempt | undefined;
    for (;;) {
      const link = await this.acquire(signal);
      if (!link) {
        if (this.bindFailure) return { ok: false, result: { ok: false, retryable: false, failure: this.bindFailure, reason: 'bind refused', details: this.bindFailure.description } };
        if (last?.kind === 'throttled') return { ok: false, result: last.result };
        if (last?.kind === 'dropped') return { ok: false, result: this.networkFailure('link dropped', 'the SMPP link dropped before submit_sm_resp and did not come back in time') };
        return { ok: false, result: this.networkFailure(this.closed ? 'session closed' : 'aborted', this.closed ? 'the SMPP session was closed' : 'no SMPP bind before the send timed out') };
      }
      last = await this.submitOnce(link, message, fields, signal);
      if (last.kind === 'ok') {
        this.throttleMs = 0;
        return { ok: true, id: last.id };
      }
      if (last.kind === 'failed') return { ok: false, result: last.result };
      if (last.kind === 'throttled') this.throttled();
      else this.ctx.log.info({ messageId: message.id }, 'smpp part unanswered when the link dropped; resubmitting after rebind');
    }
  }

  async send(message: OutboundMessage, signal: AbortSignal): Promise<SendResult> {
    const body = message.body as { type: string; text?: { text?: string } } | null;
    if (body?.type !== 'text' || typeof body.text?.text !== 'string') {
      return { ok: false, retryable: false, failure: failures.unsupportedType(`body type ${body?.type ?? 'none'}`, this.source) };
    }
    this.ref = (this.ref + 1) & 0xffff;
    const encoded = encodeText(body.text.text, this.config, this.ref);
    // Parts go out together (each holds its own window slot) so a long SMS does not serialise on round trips.
    const outcomes = await Promise.all(encoded.parts.map((fields) => this.submitPart(message, fields, signal)));
    const failed = outcomes.find((o): o is Extract<typeof o, { ok: false }> => !o.ok);
    if (failed) {
      // Some parts may have been accepted: the whole message is failed (or retried, resending every
      // part; the handset then shows the accepted ones twice, the at-least-once trade-off).
      const accepted = outcomes.filter((o) => o.ok).length;
      return accepted ? { ...failed.result, details: `${failed.result.details ?? failed.result.reason}; ${accepted} of ${outcomes.length} parts accepted` } : failed.result;
    }
    const parts = outcomes.map((o) => ({ platformReference: (o as { id: string }).id }));
    return { ok: true, parts, chargeableUnits: encoded.texts.length };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.pumpTimer);
    clearInterval(this.enquireTimer);
    this.failWaiters();
    const links = this.links;
    await Promise.all(
      links.map(
        (link) =>
          new Promise<void>((resolve) => {
            const end = setTimeout(() => resolve(), 1000);
            const ok = link.unbind({}, () => {
              clearTimeout(end);
              resolve();
            });
            if (!ok) {
              clearTimeout(end);
              resolve();
            }
          }),
      ),
    );
    this.drop(links);
  }
}
