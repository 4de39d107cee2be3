import type { Config } from '../config.ts';
import type { Connector } from './connector.ts';
import { SandboxConnector } from './sandbox/sandbox-connector.ts';
import { SmppConnector } from './smpp/smpp-connector.ts';
import { SmtpConnector, smtpConnectorOptions } from './smtp/smtp-connector.ts';

// Connector types by name, as stored on channels (`connector.type`). Adding a provider: a folder
// under connectors/, an entry here, and a connectorContract(...) call in test/connectors-contract.test.ts.
export function createConnectorRegistry(config?: Config): Map<string, Connector> {
  const all: Connector[] = [new SandboxConnector(), new SmtpConnector(config ? smtpConnectorOptions(config) : {}), new SmppConnector()];
  return new Map(all.map((c) => [c.type, c]));
}
