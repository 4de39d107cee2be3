import type { SendResult } from '../connector.ts';
import { failures } from '../failures.ts';

// submit_sm_resp command_status -> the send's outcome (docs: shared/spec/providers.md section 2).
// source.name is the channel's platform id (sms-messagebird, as Bird names its own SMS route);
// source.code is the status in hex ('0x45'), the form SMPP tables and SMSC logs use.

export const THROTTLE_RETRY_MS = 1000;

export function hex(status: number): string {
  return `0x${status.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** ESME_RTHROTTLED or ESME_RMSGQFUL: the SMSC asks to slow down; not a failure of the message. */
export function isThrottle(status: number): boolean {
  return status === 0x58 || status === 0x14;
}

export function submitFailure(status: number, source: string): Extract<SendResult, { ok: false }> {
  const code = hex(status);
  const details = `submit_sm_resp command_status ${code}`;
  if (isThrottle(status)) {
    // Throttled or queue full: not a failure of the message, the runtime pauses the session.
    return { ok: false, retryable: true, throttled: true, retryAfterMs: THROTTLE_RETRY_MS, failure: failures.networkError(source, code), reason: 'throttled', details };
  }
  if (status === 0x08 || status === 0x45) return { ok: false, retryable: true, failure: failures.networkError(source, code), reason: 'smsc error', details };
  if (status === 0x0b) return { ok: false, retryable: false, failure: { ...failures.unsupportedDestination('invalid destination address', source), source: { name: source, code } }, reason: 'rejected', details };
  if (status === 0x0a) return { ok: false, retryable: false, failure: { ...failures.invalidChannelConfiguration('the SMSC refused the source address'), source: { name: source, code } }, reason: 'invalid source address', details };
  return { ok: false, retryable: false, failure: failures.rejected(source, code), reason: 'rejected', details };
}
