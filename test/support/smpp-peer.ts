import { startSmsc, type SmscSimulator } from '../../src/smsc/simulator.ts';
import type { ContractPeer } from './contract-peer.ts';

// The contract peer for `smpp`: Aviary's own SMSC simulator (src/smsc/) on loopback, scripted per
// destination: +316000000 08 answers ESME_RSYSERR (retryable), ...11 ESME_RINVDSTADR (permanent),
// ...99 answers after 3 s (slow); everything else is accepted and receipted DELIVRD.

export const SMPP_ACCOUNT = { systemId: 'aviary', password: 'secret' };

export async function startSmppPeer(): Promise<ContractPeer & { sim: SmscSimulator }> {
  const sim = await startSmsc({
    accounts: [SMPP_ACCOUNT],
    faults: {
      nacks: [
        { pattern: '^31600000008$', status: 0x08 },
        { pattern: '^31600000011$', status: 0x0b },
      ],
      slowDestinations: [{ pattern: '^31600000099$', delayMs: 3000 }],
    },
  });
  const config = { host: '127.0.0.1', port: sim.port, ...SMPP_ACCOUNT };
  return {
    sim,
    config,
    badConfigs: [
      { config: { ...config, port: 0 }, path: '/port' },
      { config: { ...config, password: 'longer-than-8' }, path: '/password' },
      { config: { ...config, bindMode: 'both' }, path: '/bindMode' },
      { config: { ...config, concatenation: 'udh7' }, path: '/concatenation' },
      { config: { ...config, extra: true }, path: '' },
    ],
    receiver: (kind) => ({
      identifierKey: 'phonenumber',
      identifierValue: { ok: '+31612345678', retryable: '+31600000008', permanent: '+31600000011', slow: '+31600000099' }[kind],
    }),
    sendsReceipts: true,
    async inbound(from, text) {
      await sim.sendMo({ from, to: '+15550100001', text });
    },
    close: () => sim.close(),
  };
}
