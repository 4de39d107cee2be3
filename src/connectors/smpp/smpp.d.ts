// node-smpp 0.5.1 ships no types; only what the connector and simulator use is declared, loosely,
// because PDU fields are dynamic (one property per SMPP parameter or TLV).
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Socket, Server as NetServer } from 'node:net';
  export interface PDU {
    command: string;
    command_status: number;
    sequence_number: number;
    [field: string]: any;
    isResponse(): boolean;
    response(options?: Record<string, unknown>): PDU;
  }
  export class Session extends EventEmitter {
    socket: Socket;
    send(pdu: PDU, responseCallback?: (pdu: PDU) => void, sendCallback?: (pdu: PDU) => void): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    pause(): void;
    resume(): void;
    [command: string]: any;
  }
  export interface Server extends NetServer {
    sessions: Session[];
  }
  export function connect(options: { host: string; port: number; [k: string]: unknown }, listener?: () => void): Session;
  export function createServer(options: Record<string, unknown>, listener?: (session: Session) => void): Server;
  export const PDU: { new (command: string, options?: Record<string, unknown>): PDU };
  const smpp: { connect: typeof connect; createServer: typeof createServer; PDU: typeof PDU };
  export default smpp;
}
