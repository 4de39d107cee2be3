// A provider peer the shared connector contract runs against: a fake (or real) provider on loopback
// that answers each kind of receiver as scripted. Shared by every connector with a wire peer.
export interface ContractPeer {
  config: Record<string, unknown>;
  badConfigs: { config: Record<string, unknown>; path: string }[];
  receiver(kind: 'ok' | 'retryable' | 'permanent' | 'slow'): { identifierKey: string; identifierValue: string };
  sendsReceipts: boolean;
  inbound?(from: string, text: string): Promise<void>;
  close(): Promise<void>;
}
