import type { Channel } from '../../channels/channels.ts';
import type { Platform } from '../../channels/platforms.ts';
import type { Capabilities, Connector, ConnectorContext, Session } from '../connector.ts';
import { domainOf, returnPathFor } from './build-mail.ts';
import { smtpConfigSchema, type SmtpChannelConfig } from './config-schema.ts';
import { SmtpListener, type ListenOptions } from './listener.ts';
import { openOutbound } from './session.ts';

// Email over SMTP: out through the channel's relay (session.ts), in and bounces through the one
// listener of the process (listener.ts). `listens` is per connector type, so it is true; a channel
// without `inbound` config opens only its (lazy) transport and registers nothing.

const EMAIL: Capabilities = { bodyTypes: new Set(['text', 'html', 'image', 'file']), actions: new Set(['link']) };

export interface SmtpConnectorOptions {
  /** Aviary's SMTP listener; undefined: no channel can receive (their `inbound` is ignored, with a warning). */
  listen?: ListenOptions;
}

export class SmtpConnector implements Connector {
  readonly type = 'smtp';
  readonly configSchema = smtpConfigSchema;
  readonly receiptsByReference = true;
  readonly listens = true;
  readonly listener: SmtpListener | undefined;

  constructor(opts: SmtpConnectorOptions = {}) {
    this.listener = opts.listen ? new SmtpListener(opts.listen) : undefined;
  }

  capabilities(platform: Platform): Capabilities | undefined {
    return platform === 'email' ? EMAIL : undefined;
  }

  async open(channel: Channel, ctx: ConnectorContext): Promise<Session> {
    const config = channel.connectorConfig as unknown as SmtpChannelConfig;
    const out = openOutbound(channel, config, ctx);
    let unregister: (() => Promise<void>) | undefined;
    if (config.inbound) {
      if (!this.listener) ctx.log.warn({ channelId: channel.id }, 'smtp channel has inbound config but the SMTP listener is off (--smtp-listen-port)');
      else {
        unregister = await this.listener.register({
          addresses: (config.inbound.addresses ?? []).map((a) => a.toLowerCase()),
          domains: (config.inbound.domains ?? []).map((d) => d.toLowerCase()),
          returnPath: returnPathFor('{id}', config).toLowerCase(),
          referenceDomain: domainOf(config.from.address),
          source: channel.platformId,
          ctx,
        });
      }
    }
    return {
      window: out.window,
      send: out.send,
      close: async () => {
        await Promise.all([out.close(), unregister?.()]);
      },
    };
  }
}

/** The listener options from the process config: none unless a port is set. */
export function smtpConnectorOptions(c: { smtpListenPort?: number; smtpListenHost: string; smtpTlsCert?: string; smtpTlsKey?: string; smtpMaxBytes: number }): SmtpConnectorOptions {
  if (c.smtpListenPort === undefined) return {};
  return { listen: { port: c.smtpListenPort, host: c.smtpListenHost, certPath: c.smtpTlsCert, keyPath: c.smtpTlsKey, maxBytes: c.smtpMaxBytes } };
}
