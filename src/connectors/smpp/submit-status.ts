import type { SendResult } from '../connector.ts';
import { failures } from '../failures.ts';

// submit_sm_resp command_status -> the send's outcome (docs: shared/spec/providers.md section 2).
// source.code is the status in hex ('0x45'), the form SMPP tables and SMSC logs use.

const SOURCE = 'sms-messagebird';
export const THROTTLE_RETRY_MS = 1000;

export function hex(status: number): string {
  return `0x${status.toString(16).toUpperCase().padStart(2, '0')}`;
}

export function submitFailure(status: number): Extract<SendResult, { ok: false }> {
  const code = hex(status);
  const details = `submit_sm_resp command_status ${code}`;
  if (status === 0x58 || status === 0x14) {
    // Throttled or queue full: not a failure of the message, the runtime pauses the session.
    return { ok: false, retryable: true, throttled: true, retryAfterMs: THROTTLE_RETRY_MS, failure: failures.networkError(SOURCE, code), reason: 'throttled', details };
  }
  if (status === 0x08 || status === 0x45) return { ok: false, retryable: true, failure: failures.networkError(SOURCE, code), reason: 'smsc error', details };
  if (status === 0x0b) return { ok: false, retryable: false, failure: { ...failures.unsupportedDestination('invalid destination address', SOURCE), source: { name: SOURCE, code } }, reason: 'rejected', details };
  if (status === 0x0a) return { ok: false, retryable: false, failure: failures.invalidChannelConfiguration('the SMSC refused the source address'), reason: 'invalid source address', details };
  return { ok: false, retryable: false, failure: failures.rejected(SOURCE, code), reason: 'rejected', details };
}
