// What the simulated SMSC does wrong, on purpose. Everything here can be changed on a running
// simulator (`sim.setFaults(...)`), so one bind can see the SMSC go from healthy to throttling to
// dropping the link, as a real one does under load. Decisions are deterministic (counters and running
// shares, no Math.random) so a test that injects a fault sees it exactly where it asked for it.

export const STATUS = {
  ESME_ROK: 0x00,
  ESME_RINVBNDSTS: 0x04,
  ESME_RALYBND: 0x05,
  ESME_RSYSERR: 0x08,
  ESME_RINVSRCADR: 0x0a,
  ESME_RINVDSTADR: 0x0b,
  ESME_RBINDFAIL: 0x0d,
  ESME_RINVPASWD: 0x0e,
  ESME_RINVSYSID: 0x0f,
  ESME_RMSGQFUL: 0x14,
  ESME_RSUBMITFAIL: 0x45,
  ESME_RTHROTTLED: 0x58,
} as const;

/** Final states of SMPP 3.4 section 5.2.28, by their receipt text word; the value is message_state. */
export const MESSAGE_STATES = {
  SCHEDULED: 0,
  ENROUTE: 1,
  DELIVRD: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIV: 5,
  ACCEPTD: 6,
  UNKNOWN: 7,
  REJECTD: 8,
} as const;
export type ReceiptStat = keyof typeof MESSAGE_STATES;

export interface ReceiptFaults {
  /** false: no receipts at all (an SMSC that ignores registered_delivery). */
  enabled: boolean;
  /** Share (0..1) of receipts never sent. */
  missingShare: number;
  /** How long after the submit_sm_resp a receipt goes out ("late"). */
  delayMs: number;
  /** Each receipt is sent twice. */
  duplicate: boolean;
  /** The receipt goes out before the submit_sm_resp that carries its message id. */
  beforeResponse: boolean;
  /** Which parts of a concatenated message get a receipt (SMSCs differ: all, only the first, only the last). */
  parts: 'all' | 'first' | 'last';
  stat: ReceiptStat;
  /** The `err:` field (network error code, 3 digits). */
  err: string;
  /** Per destination (a regular expression on destination_addr): a different stat; first match wins. */
  byDestination: { pattern: string; stat: ReceiptStat; err?: string }[];
  /** How receipts spell the message id: as submit_sm_resp did, or always decimal / hex (SMPP 3.3 habit). */
  idFormat: 'same' | 'decimal' | 'hex';
  /** Where the id and state go: the text of short_message, the receipted_message_id / message_state TLVs, or both. */
  carrier: 'text' | 'tlv' | 'both';
}

export interface SmscFaults {
  /** The next `count` submits, plus a running `share` of the rest, are answered with `status`. */
  throttle: { status: number; count: number; share: number };
  /** submit_sm to a destination matching `pattern` (a regular expression) is answered with `status`. */
  nacks: { pattern: string; status: number }[];
  /** How long each submit_sm_resp waits (SMSC latency). */
  responseDelayMs: number;
  /** Per destination (a regular expression): a longer wait for the submit_sm_resp; first match wins. */
  slowDestinations: { pattern: string; delayMs: number }[];
  /** Answer this many more submits, then destroy the socket on the next one without answering it (once). 0: never. */
  dropAfterSubmits: number;
  receipts: ReceiptFaults;
}

export function defaultFaults(): SmscFaults {
  return {
    throttle: { status: STATUS.ESME_RTHROTTLED, count: 0, share: 0 },
    nacks: [],
    responseDelayMs: 0,
    slowDestinations: [],
    dropAfterSubmits: 0,
    receipts: {
      enabled: true,
      missingShare: 0,
      delayMs: 0,
      duplicate: false,
      beforeResponse: false,
      parts: 'all',
      stat: 'DELIVRD',
      err: '000',
      byDestination: [],
      idFormat: 'same',
      carrier: 'both',
    },
  };
}

/** Merges a partial change into the faults in force (receipts merge one level deeper). */
export function mergeFaults(base: SmscFaults, change: FaultChange): SmscFaults {
  return {
    ...base,
    ...change,
    throttle: { ...base.throttle, ...change.throttle },
    receipts: { ...base.receipts, ...change.receipts },
  };
}

export type FaultChange = Partial<Omit<SmscFaults, 'throttle' | 'receipts'>> & {
  throttle?: Partial<SmscFaults['throttle']>;
  receipts?: Partial<ReceiptFaults>;
};

/** A running share: true on about `share` of the calls, evenly spread, the same every run. */
export class Share {
  private acc = 0;
  hit(share: number): boolean {
    if (share <= 0) return false;
    this.acc += share;
    if (this.acc >= 1 - 1e-9) {
      this.acc -= 1;
      return true;
    }
    return false;
  }
}

export function matches(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return pattern === value;
  }
}
