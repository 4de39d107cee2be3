import smpp, { type Session as Link } from 'smpp';

// node-smpp decodes short_message / message_payload itself: data_coding 0 always as GSM (wrong for
// SMSCs that mean Latin-1), and its UDH branch tests `x === 0 || 1` (always true). Aviary needs the
// octets (UDH fields, per-SMSC alphabet), so the decode step is turned into the identity: received
// PDUs carry Buffers, decoded by encode.ts. Encoding is untouched (we always pass Buffers). This
// changes the library for the whole process, which is fine: only this connector and the SMSC
// simulator use it, and both want octets.
const filters = (smpp as unknown as { filters: { message: { decode: (v: unknown) => unknown } } }).filters;
filters.message.decode = (value: unknown) => value;

export interface UserData {
  udh?: Buffer;
  text: Buffer;
}

/** Splits user data into the UDH (when esm_class has UDHI) and the text octets. */
export function userData(bytes: Buffer | undefined, esmClass: number): UserData {
  const data = bytes ?? Buffer.alloc(0);
  if (esmClass & 0x40 && data.length > 0 && data[0] + 1 <= data.length) return { udh: data.subarray(1, data[0] + 1), text: data.subarray(data[0] + 1) };
  return { text: data };
}

/** The concatenation info element of a UDH (IEI 0x00 8-bit or 0x08 16-bit reference), if any. */
export function concatInfo(udh: Buffer | undefined): { ref: number; total: number; seq: number } | undefined {
  if (!udh) return undefined;
  for (let i = 0; i + 1 < udh.length; i += 2 + udh[i + 1]) {
    const iei = udh[i];
    const ie = udh.subarray(i + 2, i + 2 + udh[i + 1]);
    if (iei === 0x00 && ie.length === 3) return { ref: ie[0], total: ie[1], seq: ie[2] };
    if (iei === 0x08 && ie.length === 4) return { ref: ie.readUInt16BE(0), total: ie[2], seq: ie[3] };
  }
  return undefined;
}

/**
 * PDUs a link sends in the same tick leave in one write (writev) instead of one syscall each: the
 * submits that one read of responses frees the window for, the answers to a batch of receipts
 * committed together. Nothing waits for it: the socket is uncorked on the next tick. (In the drain
 * bench's profile, PDU writes were ~5% of the worker's busy time, most of it per-PDU syscalls.)
 * `flush` may be setImmediate instead, for PDUs sent from timers: Node runs the next tick after each
 * timer's callback, so answers due in the same millisecond would still leave one by one.
 */
export function coalesceWrites(link: Link, flush: (fn: () => void) => void = process.nextTick): void {
  const send = link.send.bind(link);
  let corked = false;
  link.send = (pdu, responseCallback, sendCallback) => {
    if (!corked && link.socket.writable) {
      corked = true;
      link.socket.cork();
      flush(() => {
        corked = false;
        link.socket.uncork();
      });
    }
    return send(pdu, responseCallback, sendCallback);
  };
}

export { smpp };
