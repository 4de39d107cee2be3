import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { PDU, Server, Session as Link } from 'smpp';
import { decodeBytes, encodeText } from '../connectors/smpp/encode.ts';
import { coalesceWrites, concatInfo, smpp, userData } from '../connectors/smpp/raw-pdu.ts';
import { defaultFaults, matches, mergeFaults, Share, STATUS, type FaultChange, type ReceiptStat, type SmscFaults } from './faults.ts';
import { receiptFields, receiptId } from './receipt.ts';

// An SMPP 3.4 SMSC on loopback, for tests and for users trying SMPP locally (`aviary smsc`). It binds
// ESMEs (checking system_id and password when accounts are given), answers submit_sm with message ids,
// sends delivery receipts and mobile-originated messages as deliver_sm, answers enquire_link and
// unbind, and misbehaves on request (faults.ts). It keeps what it saw (`submits`, `deliveries`) for
// tests to check against. Receipts and MO wait for a receiver bind of their system_id and are sent
// again when the ESME answers with a temporary error or the link drops before it answers, as a real
// SMSC's store-and-forward does.

export interface SmscLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface SmscOptions {
  host?: string;
  /** 0: any free port (see `port` after start). */
  port?: number;
  /** Accounts that may bind; none given: any system_id and password bind. */
  accounts?: { systemId: string; password: string }[];
  /** How submit_sm_resp spells message ids. */
  messageIdFormat?: 'decimal' | 'hex';
  /** The first message id handed out (a large one, so decimal and hex spellings differ). */
  firstMessageId?: number;
  /** How to read data_coding 0 of what ESMEs submit. */
  defaultAlphabet?: 'gsm7' | 'latin1';
  faults?: FaultChange;
  log?: SmscLog;
  /** How many submits and deliveries are kept for inspection (the oldest go first); counts are kept whole. */
  maxRecords?: number;
}

type BindMode = 'transceiver' | 'transmitter' | 'receiver';

export interface Submitted {
  systemId: string;
  sequence: number;
  source: string;
  destination: string;
  dataCoding: number;
  esmClass: number;
  registeredDelivery: number;
  text: string;
  /** Concatenation of this part: from the UDH or the SAR TLVs. */
  concat?: { ref: number; total: number; seq: number; via: 'udh' | 'sar' };
  payload: boolean;
  /** The answer it got: a message id, an error status, or none (the link was dropped). */
  status?: number;
  messageId?: string;
  at: Date;
}

export interface Delivery {
  kind: 'receipt' | 'mo';
  systemId: string;
  fields: Record<string, unknown>;
  /** deliver_sm_resp command_status of each try, in order. */
  answers: number[];
}

interface Pending {
  delivery: Delivery;
  tries: number;
  settle: () => void;
}

interface Bound {
  link: Link;
  systemId?: string;
  mode?: BindMode;
}

const RETRY_DELIVERY_MS = 500;
const MAX_DELIVERY_TRIES = 20;

export class SmscSimulator extends EventEmitter {
  readonly submits: Submitted[] = [];
  readonly deliveries: Delivery[] = [];
  readonly counts = { binds: 0, bindFailures: 0, unbinds: 0, enquireLinks: 0, drops: 0, submits: 0, accepted: 0, deliveries: 0 };
  private faults: SmscFaults;
  private server?: Server;
  private bound = new Set<Bound>();
  private nextId: number;
  private throttleShare = new Share();
  private missingShare = new Share();
  private queue: Pending[] = [];
  private timers = new Set<NodeJS.Timeout>();
  private nextMoRef = 1;
  private closed = false;
  port = 0;

  constructor(private readonly options: SmscOptions = {}) {
    super();
    this.faults = mergeFaults(defaultFaults(), options.faults ?? {});
    this.nextId = options.firstMessageId ?? 0x10000000;
  }

  get currentFaults(): SmscFaults {
    return structuredClone(this.faults);
  }

  setFaults(change: FaultChange): void {
    this.faults = mergeFaults(this.faults, change);
  }

  resetFaults(): void {
    this.faults = mergeFaults(defaultFaults(), this.options.faults ?? {});
  }

  async start(): Promise<this> {
    const server = smpp.createServer({}, (link) => this.accept(link));
    this.server = server;
    server.on('error', (err: Error) => this.options.log?.warn({ err: err.message }, 'smsc server error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.options.log?.info({ host: this.options.host ?? '127.0.0.1', port: this.port }, 'smsc listening');
    return this;
  }

  /** Links bound now (by system id and mode). */
  binds(): { systemId: string; mode: BindMode }[] {
    return [...this.bound].filter((b) => b.mode).map((b) => ({ systemId: b.systemId!, mode: b.mode! }));
  }

  /** Destroys every link without a word, as a crashed SMSC or a cut cable does. */
  dropLinks(): void {
    for (const b of this.bound) b.link.destroy();
  }

  /** A mobile-originated SMS to the ESMEs bound as `systemId` (the first receiver, if not given). */
  async sendMo(mo: { from: string; to: string; text: string; concatenation?: 'udh8' | 'udh16' | 'sar' | 'payload'; systemId?: string }): Promise<Delivery[]> {
    const systemId = mo.systemId ?? this.receiverFor()?.systemId ?? this.options.accounts?.[0]?.systemId ?? '';
    const ref = this.nextMoRef++ & 0xffff;
    const encoded = encodeText(mo.text, { dataCoding: 'gsm7', concatenation: mo.concatenation ?? 'udh8' }, ref);
    const deliveries = encoded.parts.map((part): Delivery => ({
      kind: 'mo',
      systemId,
      fields: { source_addr_ton: 1, source_addr_npi: 1, source_addr: mo.from.replace(/^\+/, ''), dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: mo.to.replace(/^\+/, ''), ...part },
      answers: [],
    }));
    await Promise.all(deliveries.map((d) => this.deliver(d)));
    return deliveries;
  }

  /** A receipt for a message id, now, whatever the faults say (a test scripting a receipt by hand). */
  async sendReceipt(messageId: string, stat: ReceiptStat, opts: { systemId?: string; err?: string; carrier?: 'text' | 'tlv' | 'both' } = {}): Promise<Delivery> {
    const s = this.submits.find((x) => x.messageId === messageId);
    const systemId = opts.systemId ?? s?.systemId ?? this.receiverFor()?.systemId ?? '';
    const now = new Date();
    const fields = receiptFields(
      { id: messageId, source: s?.source ?? '', destination: s?.destination ?? '', stat, err: opts.err ?? '000', submittedAt: s?.at ?? now, doneAt: now, text: s?.text ?? '' },
      opts.carrier ?? this.faults.receipts.carrier,
    );
    const d: Delivery = { kind: 'receipt', systemId, fields, answers: [] };
    await this.deliver(d);
    return d;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const item of this.queue.splice(0)) item.settle();
    for (const b of this.bound) b.link.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private trim(list: unknown[]): void {
    const max = this.options.maxRecords ?? Infinity;
    if (list.length > max) list.splice(0, list.length - max);
  }

  private later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private accept(link: Link): void {
    const b: Bound = { link };
    link.socket.setNoDelay(true);
    // One 'close' listener per deliver_sm awaiting its answer (deliver, below): as many as are in flight.
    link.setMaxListeners(0);
    // Answers and receipts are sent from timers (the configured delays): flushed once per turn of
    // the event loop, not once per timer.
    coalesceWrites(link, setImmediate);
    this.bound.add(b);
    link.on('error', (err: Error) => this.options.log?.debug({ err: err.message }, 'smsc link error'));
    link.on('close', () => {
      this.bound.delete(b);
      if (b.mode) this.options.log?.info({ systemId: b.systemId, mode: b.mode }, 'smsc link closed');
    });
    for (const mode of ['transceiver', 'transmitter', 'receiver'] as const) link.on(`bind_${mode}`, (pdu: PDU) => this.onBind(b, mode, pdu));
    link.on('submit_sm', (pdu: PDU) => this.onSubmit(b, pdu));
    link.on('enquire_link', (pdu: PDU) => {
      this.counts.enquireLinks++;
      this.emit('enquire_link', b.systemId);
      link.send(pdu.response());
    });
    link.on('unbind', (pdu: PDU) => {
      this.counts.unbinds++;
      this.emit('unbind', b.systemId);
      this.options.log?.info({ systemId: b.systemId }, 'smsc unbind');
      b.mode = undefined;
      link.send(pdu.response(), () => link.close());
    });
  }

  private onBind(b: Bound, mode: BindMode, pdu: PDU): void {
    const systemId = String(pdu.system_id ?? '');
    let status: number = STATUS.ESME_ROK;
    const accounts = this.options.accounts;
    if (b.mode) status = STATUS.ESME_RALYBND;
    else if (accounts?.length) {
      const account = accounts.find((a) => a.systemId === systemId);
      if (!account) status = STATUS.ESME_RINVSYSID;
      else if (account.password !== String(pdu.password ?? '')) status = STATUS.ESME_RINVPASWD;
    }
    if (status !== STATUS.ESME_ROK) {
      this.counts.bindFailures++;
      this.options.log?.warn({ systemId, mode, status }, 'smsc bind refused');
      b.link.send(pdu.response({ command_status: status }));
      return;
    }
    b.systemId = systemId;
    b.mode = mode;
    this.counts.binds++;
    this.options.log?.info({ systemId, mode }, 'smsc bound');
    b.link.send(pdu.response({ system_id: 'AVIARYSMSC' }));
    this.emit('bind', { systemId, mode });
    if (mode !== 'transmitter') this.flush();
  }

  private onSubmit(b: Bound, pdu: PDU): void {
    const { udh, text } = userData(pdu.short_message?.length ? pdu.short_message : pdu.message_payload, pdu.esm_class ?? 0);
    const udhConcat = concatInfo(udh);
    const sub: Submitted = {
      systemId: b.systemId ?? '',
      sequence: pdu.sequence_number,
      source: String(pdu.source_addr ?? ''),
      destination: String(pdu.destination_addr ?? ''),
      dataCoding: pdu.data_coding ?? 0,
      esmClass: pdu.esm_class ?? 0,
      registeredDelivery: pdu.registered_delivery ?? 0,
      text: decodeBytes(text, pdu.data_coding ?? 0, this.options.defaultAlphabet ?? 'gsm7'),
      concat: udhConcat
        ? { ...udhConcat, via: 'udh' }
        : typeof pdu.sar_msg_ref_num === 'number'
          ? { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments ?? 1, seq: pdu.sar_segment_seqnum ?? 1, via: 'sar' }
          : undefined,
      payload: !pdu.short_message?.length && !!pdu.message_payload?.length,
      at: new Date(),
    };
    this.submits.push(sub);
    this.counts.submits++;
    this.trim(this.submits);
    const f = this.faults;
    const delayMs = f.slowDestinations.find((x) => matches(x.pattern, sub.destination))?.delayMs ?? f.responseDelayMs;
    const answer = (status: number, messageId?: string) => {
      const respond = () => {
        const resp = status === STATUS.ESME_ROK ? pdu.response({ message_id: messageId }) : pdu.response({ command_status: status });
        // Recorded as answered only if it could be written: a response lost with its link was never seen.
        if (b.link.send(resp)) {
          sub.status = status;
          sub.messageId = messageId;
          if (status === STATUS.ESME_ROK) this.counts.accepted++;
        }
        this.emit('submit', sub);
      };
      if (delayMs > 0) this.later(delayMs, respond);
      else respond();
    };
    if (b.mode !== 'transceiver' && b.mode !== 'transmitter') return answer(STATUS.ESME_RINVBNDSTS);
    if (f.dropAfterSubmits > 0) {
      if (f.dropAfterSubmits === 1) {
        // The link dies with this submit (and any whose delayed answer is pending) unanswered.
        this.faults = { ...f, dropAfterSubmits: 0 };
        this.counts.drops++;
        this.options.log?.info({ systemId: b.systemId }, 'smsc dropping the link (fault)');
        this.emit('submit', sub);
        b.link.destroy();
        return;
      }
      this.faults = { ...f, dropAfterSubmits: f.dropAfterSubmits - 1 };
    }
    if (f.throttle.count > 0) {
      this.faults = { ...f, throttle: { ...f.throttle, count: f.throttle.count - 1 } };
      return answer(f.throttle.status);
    }
    if (this.throttleShare.hit(f.throttle.share)) return answer(f.throttle.status);
    const nack = f.nacks.find((n) => matches(n.pattern, sub.destination));
    if (nack) return answer(nack.status);
    const n = this.nextId++;
    const id = this.options.messageIdFormat === 'hex' ? n.toString(16) : String(n);
    const receipt = sub.registeredDelivery & 0x03 ? this.planReceipt(sub, id) : undefined;
    if (receipt && f.receipts.beforeResponse) {
      // Sent (written to the socket) before the response, so the ESME reads the receipt first.
      for (const d of receipt) void this.deliver(d);
      answer(STATUS.ESME_ROK, id);
      return;
    }
    answer(STATUS.ESME_ROK, id);
    if (receipt) this.later(delayMs + f.receipts.delayMs, () => receipt.forEach((d) => void this.deliver(d)));
  }

  /** The receipts this part gets under the faults in force: none, one, or the same one twice. */
  private planReceipt(sub: Submitted, id: string): Delivery[] | undefined {
    const r = this.faults.receipts;
    if (!r.enabled) return undefined;
    if (sub.concat && r.parts === 'first' && sub.concat.seq !== 1) return undefined;
    if (sub.concat && r.parts === 'last' && sub.concat.seq !== sub.concat.total) return undefined;
    if (this.missingShare.hit(r.missingShare)) return undefined;
    const rule = r.byDestination.find((x) => matches(x.pattern, sub.destination));
    const stat = rule?.stat ?? r.stat;
    const err = rule?.err ?? (rule ? '000' : r.err);
    const fields = receiptFields(
      { id: receiptId(id, this.options.messageIdFormat ?? 'decimal', r.idFormat), source: sub.source, destination: sub.destination, stat, err, submittedAt: sub.at, doneAt: new Date(), text: sub.text },
      r.carrier,
    );
    const one = (): Delivery => ({ kind: 'receipt', systemId: sub.systemId, fields, answers: [] });
    return r.duplicate ? [one(), one()] : [one()];
  }

  private receiverFor(systemId?: string): Bound | undefined {
    for (const b of this.bound) if ((b.mode === 'transceiver' || b.mode === 'receiver') && (systemId === undefined || b.systemId === systemId)) return b;
    return undefined;
  }

  /** Resolves once the ESME accepted the deliver_sm, refused it for good, or it was given up on. */
  private deliver(d: Delivery): Promise<void> {
    return new Promise((resolve) => {
      this.deliveries.push(d);
      this.counts.deliveries++;
      this.trim(this.deliveries);
      this.queue.push({ delivery: d, tries: 0, settle: resolve });
      this.flush();
    });
  }

  private flush(): void {
    for (const item of this.queue.splice(0)) {
      const receiver = this.receiverFor(item.delivery.systemId);
      if (!receiver) {
        this.queue.push(item);
        continue;
      }
      this.attempt(receiver, item);
    }
  }

  private attempt(receiver: Bound, item: Pending): void {
    const d = item.delivery;
    item.tries++;
    let answered = false;
    const retry = () => {
      if (item.tries >= MAX_DELIVERY_TRIES || this.closed) return item.settle();
      this.later(RETRY_DELIVERY_MS, () => {
        this.queue.push(item);
        this.flush();
      });
    };
    const onClose = () => {
      if (!answered) {
        answered = true;
        retry();
      }
    };
    receiver.link.once('close', onClose);
    const sent = receiver.link.deliver_sm({ ...d.fields }, (resp: PDU) => {
      if (answered) return;
      answered = true;
      receiver.link.removeListener('close', onClose);
      d.answers.push(resp.command_status);
      this.emit('deliver_resp', d, resp.command_status);
      // 0x64 ESME_RX_T_APPN: the ESME could not take it now; anything else is final.
      if (resp.command_status === 0x64) retry();
      else item.settle();
    });
    if (!sent) onClose();
  }
}

/** Starts a simulator (a free loopback port unless one is given). */
export function startSmsc(options: SmscOptions = {}): Promise<SmscSimulator> {
  return new SmscSimulator(options).start();
}
