import type { Connector } from './connector.ts';
import { SandboxConnector } from './sandbox/sandbox-connector.ts';

// Connector types by name, as stored on channels (`connector.type`). Adding a provider: a folder
// under connectors/, an entry here, and the contract suite in test/connectors-contract.test.ts.
export function createConnectorRegistry(): Map<string, Connector> {
  const all: Connector[] = [new SandboxConnector()];
  return new Map(all.map((c) => [c.type, c]));
}
