// Bird's failure codes, in one place. `failure` on a message is `{code, description, source}`:
// code groups 11xxx asynchronous validation, 12xxx service, 14xxx customer, 15xxx platform; the
// source names the step that failed (pre-processing, contact, a connector such as sms-messagebird,
// whatsapp with WhatsApp's own error code). Codes Bird does not document are Aviary's choices and
// are listed in docs/lifecycle.md.

export interface Failure {
  code: number;
  description: string;
  source: { code?: string; name: string };
}

export const failures = {
  invalidChannelConfiguration: (detail: string): Failure => ({ code: 11001, description: `Invalid channel configuration: ${detail}`, source: { name: 'pre-processing' } }),
  invalidInput: (detail: string): Failure => ({ code: 11002, description: `Invalid input: ${detail}`, source: { name: 'pre-processing' } }),
  dependencyError: (detail: string, source = 'pre-processing'): Failure => ({ code: 12001, description: `Dependency error: ${detail}`, source: { name: source } }),
  unsupportedType: (detail: string, source: string): Failure => ({ code: 12002, description: `Unsupported type: ${detail}`, source: { name: source } }),
  /** Media of a type (or size) the platform does not take; `code` is the platform's own (WhatsApp: 131053). */
  unsupportedMediaType: (detail: string, source: string, code?: string): Failure => ({
    code: 12002,
    description: `Unsupported media type: ${detail}`,
    source: { name: source, ...(code ? { code } : {}) },
  }),
  unsupportedDestination: (detail: string, source: string): Failure => ({ code: 12003, description: `Unsupported destination: ${detail}`, source: { name: source } }),
  invalidMessage: (detail: string, source = 'pre-processing'): Failure => ({ code: 12006, description: `Invalid message: ${detail}`, source: { name: source } }),
  /** Aviary's choice: the validity period ran out before the message could be handed over. */
  expired: (): Failure => ({ code: 12007, description: 'Message validity expired before it could be sent', source: { name: 'pre-processing' } }),
  networkError: (source: string, code?: string): Failure => ({ code: 15001, description: 'Network error', source: { name: source, ...(code ? { code } : {}) } }),
  rejected: (source: string, code?: string): Failure => ({ code: 15002, description: 'Rejected by the carrier', source: { name: source, ...(code ? { code } : {}) } }),
  deliveryExpired: (source: string, code?: string): Failure => ({ code: 15004, description: 'Expired before delivery', source: { name: source, ...(code ? { code } : {}) } }),
  unknownSubscriber: (source: string, code = '1'): Failure => ({ code: 15005, description: 'Unknown subscriber', source: { name: source, code } }),
  /** WhatsApp 131047: more than 24 hours since the customer last wrote; only templates may go out. */
  reEngagementRequired: (): Failure => ({
    code: 15006,
    description: 'Re-engagement message: more than 24 hours have passed since the customer last replied; send a template',
    source: { name: 'whatsapp', code: '131047' },
  }),
};
