import type { ConfigSchema } from '../connector.ts';

// The channel config of an SMPP channel. SMSCs differ in the details the spec leaves open (how they
// read data_coding 0, how receipts spell the message id, which concatenation they honour, how many
// part receipts they send), so each of those is a setting rather than a guess.

export interface SmppConfig {
  host: string;
  port: number;
  systemId: string;
  password: string;
  systemType: string;
  bindMode: 'transceiver' | 'transmitter-receiver';
  sourceTon?: number;
  sourceNpi?: number;
  destTon: number;
  destNpi: number;
  windowSize: number;
  throughputPerSecond?: number;
  enquireLinkSeconds: number;
  responseTimeoutMs: number;
  dataCoding: 'gsm7' | 'latin1';
  concatenation: 'udh8' | 'udh16' | 'sar' | 'payload';
  receiptIdFormat: 'decimal' | 'hex' | 'as-is';
  receiptSettles: 'any' | 'last' | 'all';
}

const byte = { type: 'integer', minimum: 0, maximum: 255 };

export const smppConfigSchema: ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['host', 'systemId', 'password'],
  properties: {
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 2775 },
    // SMPP 3.4 limits system_id to 16 octets and password to 9 (both C-Octet strings with the NUL).
    systemId: { type: 'string', minLength: 1, maxLength: 15 },
    password: { type: 'string', maxLength: 8, writeOnly: true },
    systemType: { type: 'string', maxLength: 12, default: '' },
    bindMode: { enum: ['transceiver', 'transmitter-receiver'], default: 'transceiver' },
    sourceTon: byte,
    sourceNpi: byte,
    destTon: { ...byte, default: 1 },
    destNpi: { ...byte, default: 1 },
    windowSize: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
    throughputPerSecond: { type: 'number', exclusiveMinimum: 0 },
    enquireLinkSeconds: { type: 'number', exclusiveMinimum: 0, default: 30 },
    responseTimeoutMs: { type: 'integer', minimum: 1, default: 10000 },
    dataCoding: { enum: ['gsm7', 'latin1'], default: 'gsm7' },
    concatenation: { enum: ['udh8', 'udh16', 'sar', 'payload'], default: 'udh8' },
    receiptIdFormat: { enum: ['decimal', 'hex', 'as-is'], default: 'as-is' },
    receiptSettles: { enum: ['any', 'last', 'all'], default: 'all' },
  },
};

/** The config with every default filled in (the runtime validates but does not apply defaults). */
export function readSmppConfig(raw: Record<string, unknown>): SmppConfig {
  const out: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(smppConfigSchema.properties)) {
    if (raw[key] !== undefined) out[key] = raw[key];
    else if ('default' in prop) out[key] = prop.default;
  }
  return out as unknown as SmppConfig;
}
