import type { Channel } from '../../channels/channels.ts';
import type { Platform } from '../../channels/platforms.ts';
import type { Capabilities, ConfigSchema, Connector, ConnectorContext, Session } from '../connector.ts';
import { readSmppConfig, smppConfigSchema } from './config-schema.ts';
import { SmppSession } from './session.ts';

// SMS over SMPP 3.4. The session is a standing bind (listens: it receives receipts and MO while
// idle); receipts name the SMSC's message id of each part, hence receiptsByReference.

const SMS: Capabilities = { bodyTypes: new Set(['text']), actions: new Set() };

export class SmppConnector implements Connector {
  readonly type = 'smpp';
  readonly configSchema: ConfigSchema = smppConfigSchema;
  readonly receiptsByReference = true;
  readonly listens = true;

  capabilities(platform: Platform): Capabilities | undefined {
    return platform === 'sms' ? SMS : undefined;
  }

  async open(channel: Channel, ctx: ConnectorContext): Promise<Session> {
    const session = new SmppSession(readSmppConfig(channel.connectorConfig ?? {}), channel, ctx);
    // Returned while connecting: sends wait for the bind, so a slow SMSC does not block activation.
    session.start();
    return session;
  }
}
