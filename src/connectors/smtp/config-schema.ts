import type { ConfigSchema } from '../connector.ts';

// `connector.config` of an smtp channel. The runtime validates it with Ajv (422 on failure), so the
// rest of the connector may take its shape for granted. `auth.password` is writeOnly: never shown back.

export interface SmtpChannelConfig {
  host: string;
  port: number;
  tls: 'implicit' | 'starttls' | 'none';
  auth?: { user: string; password: string };
  poolSize?: number;
  from: { address: string; name?: string };
  /** Envelope sender (MAIL FROM). `bounce+{id}@domain` puts the message id in it (VERP). */
  returnPath?: string;
  dsn?: boolean;
  /** What this channel receives on Aviary's SMTP listener; `{}` receives only its bounces. */
  inbound?: { addresses?: string[]; domains?: string[] };
}

const email = { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^@\\s<>]+@[^@\\s<>]+$' };

export const smtpConfigSchema: ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['host', 'port', 'tls', 'from'],
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 253 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    // No "opportunistic" mode: a relay that silently drops to plaintext is how credentials leak;
    // 'none' exists for loopback relays (a local Postfix) only.
    tls: { type: 'string', enum: ['implicit', 'starttls', 'none'] },
    auth: {
      type: 'object',
      additionalProperties: false,
      required: ['user', 'password'],
      properties: { user: { type: 'string', minLength: 1 }, password: { type: 'string', minLength: 1, writeOnly: true } },
    },
    poolSize: { type: 'integer', minimum: 1, maximum: 100, default: 5 },
    from: {
      type: 'object',
      additionalProperties: false,
      required: ['address'],
      properties: { address: email, name: { type: 'string', maxLength: 200 } },
    },
    returnPath: { description: 'Envelope sender (MAIL FROM); `{id}` in it is replaced by the message id (VERP), e.g. bounce+{id}@example.com', type: 'string', minLength: 3, maxLength: 254, pattern: '^[^@\\s<>]+@[^@\\s<>]+$' },
    dsn: { type: 'boolean', default: true },
    inbound: {
      type: 'object',
      additionalProperties: false,
      properties: {
        addresses: { type: 'array', maxItems: 1000, items: email },
        domains: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[^@\\s<>]+$' } },
      },
    },
  },
};
