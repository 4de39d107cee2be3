import type { Channel } from '../../channels/channels.ts';
import type { ConnectorContext, OutboundMessage, ProviderEvent, SendResult, Session } from '../connector.ts';
import { failures, type Failure } from '../failures.ts';
import type { SmppConfig } from './config-schema.ts';
import { encodeText, type PartFields } from './encode.ts';
import { inboundEvent } from './inbound.ts';
import { smpp } from './raw-pdu.ts';
import { receiptEvent } from './receipts.ts';
import { hex, submitFailure } from './submit-status.ts';
import type { PDU, Session as Link } from 'smpp';

// One bind (or a transmitter + receiver pair) to an SMSC, kept up for as long as the channel is
// active. The link reconnects by itself; sends wait for it (bounded by the runtime's AbortSignal).
// The window counts PDUs, not messages: a long SMS takes one slot per part, and a slot is freed only
// when the SMSC answered, the response timed out or the link dropped, never on abort, so the SMSC
// never sees more than windowSize outstanding submit_sm.

const SOURCE = 'sms-messagebird';
const BIND_REFUSED = new Set([0x0d, 0x0e, 0x0f]);
const ESME_RX_T_APPN = 0x64;
const ESME_RX_P_APPN = 0x65;

type PartOutcome = { ok: true; id: string } | { ok: false; result: Extract<SendResult, { ok: false }> };

export class SmppSession implements Session {
  readonly window: number;
  readonly ratePerSecond?: number;
  private links: Link[] = [];
  private bound = false;
  private closed = false;
  private bindFailure?: Failure;
  private backoffMs = 250;
  private reconnectTimer?: NodeJS.Timeout;
  private enquireTimer?: NodeJS.Timeout;
  private inFlight = 0;
  private waiters: { resolve: (ok: boolean) => void; signal: AbortSignal; onAbort: () => void }[] = [];
  private outstanding = new Map<Link, Map<number, (o: PartOutcome) => void>>();
  private ref = Math.floor(Math.random() * 0xffff);

  constructor(private readonly config: SmppConfig, private readonly channel: Channel, private readonly ctx: ConnectorContext) {
    this.window = config.windowSize;
    this.ratePerSecond = config.throughputPerSecond;
  }

  start(): void {
    if (this.closed) return;
    const modes = this.config.bindMode === 'transceiver' ? ['bind_transceiver'] : ['bind_transmitter', 'bind_receiver'];
    const links = modes.map(() => smpp.connect({ host: this.config.host, port: this.config.port }));
    this.links = links;
    let boundCount = 0;
    links.forEach((link, i) => {
      this.outstanding.set(link, new Map());
      link.on('connect', () => {
        link[modes[i]]({ system_id: this.config.systemId, password: this.config.password, system_type: this.config.systemType, interface_version: 0x34 }, (pdu: PDU) => {
          if (this.links !== links) return;
          if (pdu.command_status !== 0) {
            this.ctx.log.warn({ host: this.config.host, systemId: this.config.systemId, status: hex(pdu.command_status) }, 'smpp bind refused');
            if (BIND_REFUSED.has(pdu.command_status)) this.bindFailure = failures.invalidChannelConfiguration(`SMSC refused the bind (${hex(pdu.command_status)})`);
            this.failWaiters();
            this.drop(links);
            return;
          }
          if (++boundCount < links.length) return;
          this.bound = true;
          this.bindFailure = undefined;
          this.backoffMs = 250;
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
        const timer = setTimeout(() => this.drop(links), this.config.responseTimeoutMs);
        link.enquire_link({}, () => clearTimeout(timer));
      }
    }, this.config.enquireLinkSeconds * 1000);
    this.enquireTimer.unref();
  }

  /** Link lost: outstanding submits resolve retryable now (the runtime resends: at-least-once). */
  private drop(links: Link[]): void {
    if (this.links !== links) return;
    this.links = [];
    this.bound = false;
    clearInterval(this.enquireTimer);
    for (const link of links) {
      const pending = this.outstanding.get(link);
      this.outstanding.delete(link);
      for (const resolve of pending?.values() ?? []) resolve({ ok: false, result: { ok: false, retryable: true, failure: failures.networkError(SOURCE), reason: 'link dropped', details: 'the SMPP link dropped before submit_sm_resp' } });
      link.removeAllListeners('close');
      link.on('error', () => {});
      link.destroy();
    }
    if (this.closed) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
    this.ctx.log.info({ host: this.config.host, retryInMs: delay }, 'smpp link down; reconnecting');
    this.reconnectTimer = setTimeout(() => this.start(), delay);
  }

  private onDeliver(link: Link, pdu: PDU): void {
    let events: ProviderEvent[];
    try {
      events = [(pdu.esm_class & 0x04) ? receiptEvent(pdu, this.config) : inboundEvent(pdu, this.config)];
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
      w.resolve(false);
    }
  }

  private pump(): void {
    while (this.bound && this.inFlight < this.window && this.waiters.length) {
      const w = this.waiters.shift()!;
      w.signal.removeEventListener('abort', w.onAbort);
      this.inFlight++;
      w.resolve(true);
    }
  }

  /** A window slot on a bound link; false: aborted, closed or the bind is refused. */
  private acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted || this.closed || this.bindFailure) return Promise.resolve(false);
    return new Promise((resolve) => {
      const w = { resolve, signal, onAbort: () => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(false);
      } };
      signal.addEventListener('abort', w.onAbort, { once: true });
      this.waiters.push(w);
      this.pump();
    });
  }

  private release(): void {
    this.inFlight--;
    this.pump();
  }

  private async submitPart(message: OutboundMessage, fields: PartFields, signal: AbortSignal): Promise<PartOutcome> {
    if (!(await this.acquire(signal))) {
      if (this.bindFailure) return { ok: false, result: { ok: false, retryable: false, failure: this.bindFailure, reason: 'bind refused' } };
      return { ok: false, result: { ok: false, retryable: true, failure: failures.networkError(SOURCE), reason: this.closed ? 'session closed' : 'aborted' } };
    }
    const link = this.links[0];
    const pending = this.outstanding.get(link)!;
    const recipient = message.recipients[0];
    const alpha = /[^+\d]/.test(message.sender);
    return new Promise<PartOutcome>((resolve) => {
      let seq = 0;
      let done = false;
      const finish = (o: PartOutcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        pending.delete(seq);
        this.release();
        resolve(o);
      };
      const timer = setTimeout(() => finish({ ok: false, result: { ok: false, retryable: true, failure: failures.networkError(SOURCE), reason: 'timeout', details: `no submit_sm_resp in ${this.config.responseTimeoutMs} ms` } }), this.config.responseTimeoutMs);
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
        if (resp.command_status === 0) finish({ ok: true, id: String(resp.message_id) });
        else finish({ ok: false, result: submitFailure(resp.command_status) });
      });
      seq = pdu.sequence_number;
      pending.set(seq, finish);
      if (!sent) finish({ ok: false, result: { ok: false, retryable: true, failure: failures.networkError(SOURCE), reason: 'link not writable' } });
    });
  }

  async send(message: OutboundMessage, signal: AbortSignal): Promise<SendResult> {
    const body = message.body as { type: string; text?: { text?: string } } | null;
    if (body?.type !== 'text' || typeof body.text?.text !== 'string') {
      return { ok: false, retryable: false, failure: failures.unsupportedType(`body type ${body?.type ?? 'none'}`, SOURCE) };
    }
    const encoded = encodeText(body.text.text, this.config, this.ref = (this.ref + 1) & 0xffff);
    // Parts go out together (each holds its own window slot) so a long SMS does not serialise on round trips.
    const outcomes = await Promise.all(encoded.parts.map((fields) => this.submitPart(message, fields, signal)));
    const failed = outcomes.find((o): o is Extract<PartOutcome, { ok: false }> => !o.ok);
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
    clearInterval(this.enquireTimer);
    this.failWaiters();
    const links = this.links;
    await Promise.all(links.map((link) => new Promise<void>((resolve) => {
      const end = setTimeout(() => { link.destroy(); resolve(); }, 1000);
      const ok = link.unbind({}, () => { clearTimeout(end); link.close(); resolve(); });
      if (!ok) { clearTimeout(end); resolve(); }
    })));
    this.drop(links);
  }
}
