import type { Platform } from '../../channels/platforms.ts';

// Magic receivers, in the spirit of Twilio's test numbers: the receiver picks what the sandbox
// provider does. A phone number picks by its last four digits; any other identifier (email, user
// ids) picks by containing the scenario's name, e.g. `ann+unknown-subscriber@example.com`.
// Documented in docs/sandbox.md; every row is sent end to end by test/dispatch.test.ts or test/sandbox.test.ts.

export type ScenarioName =
  | 'delivered'
  | 'unknown-subscriber'
  | 'network-error'
  | 'flaky'
  | 'rejected'
  | 'expired'
  | 'no-receipt'
  | 'duplicate-receipts'
  | 'out-of-order'
  | 'slow'
  | 'unsupported-destination'
  | 'throttled'
  | 'auto-reply';

export const SCENARIOS: { name: ScenarioName; digits: string; what: string }[] = [
  { name: 'unknown-subscriber', digits: '1001', what: 'sent, then delivery_failed 15005 (unknown subscriber)' },
  { name: 'network-error', digits: '1002', what: 'every attempt fails transiently: retried 10 times, then sending_failed 15001' },
  { name: 'flaky', digits: '1003', what: 'the first two attempts fail transiently, the third is sent and delivered' },
  { name: 'rejected', digits: '1004', what: 'the provider refuses the message: sending_failed 15002, no retry' },
  { name: 'expired', digits: '1005', what: 'sent, then delivery_failed 15004 (expired in the network)' },
  { name: 'no-receipt', digits: '1006', what: 'sent, and no receipt ever arrives' },
  { name: 'duplicate-receipts', digits: '1007', what: 'delivered, and the delivery receipt arrives twice (the second is ignored)' },
  { name: 'out-of-order', digits: '1008', what: 'the delivered receipt arrives before a stale "sent" receipt, which is ignored' },
  { name: 'slow', digits: '1009', what: 'delivered after 20 times the channel receipt delay' },
  { name: 'unsupported-destination', digits: '1010', what: 'sending_failed 12003 (unsupported destination), no retry' },
  { name: 'throttled', digits: '1011', what: 'the provider throttles the first attempt (retry after 1 s), then sent and delivered' },
  { name: 'auto-reply', digits: '1012', what: 'delivered, then the contact replies with an inbound text "Re: <your text>"' },
];

export function scenarioFor(identifierKey: string, value: string, _platform: Platform): ScenarioName {
  if (identifierKey === 'phonenumber') {
    const digits = value.replace(/\D/g, '').slice(-4);
    return SCENARIOS.find((s) => s.digits === digits)?.name ?? 'delivered';
  }
  const lower = value.toLowerCase();
  return SCENARIOS.find((s) => lower.includes(s.name))?.name ?? 'delivered';
}
