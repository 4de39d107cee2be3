import type { Config } from '../config.ts';
import type { Connector } from './connector.ts';
import type { ChaosSource } from './sandbox/chaos.ts';
import { SandboxConnector } from './sandbox/sandbox-connector.ts';
import { SmppConnector } from './smpp/smpp-connector.ts';
import { SmtpConnector, smtpConnectorOptions } from './smtp/smtp-connector.ts';

// Connector types by name, as stored on channels (`connector.type`). Adding a provider: a folder
// under connectors/, an entry here, and a connectorContract(...) call in test/connectors-contract.test.ts.
// `chaos`: where the sandbox finds failure-injection rules (given by the composition root, which owns the cache).
export function createConnectorRegistry(config?: Config, deps: { chaos?: ChaosSource } = {}): Map<string, Connector> {
  const all: Connector[] = [new SandboxConnector(deps.chaos), new SmtpConnector(config ? smtpConnectorOptions(config) : {}), new SmppConnector()];
  return new Map(all.map((c) => [c.type, c]));
}
