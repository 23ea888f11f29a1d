// Test-side DNS messages: dns2's packet model builds queries and parses answers (it leaves the
// types it does not know, OPENPGPKEY and CERT, as raw bytes, which is what the tests compare), and
// plain sockets carry them so the tests see exactly what the server sent.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dns2 from 'dns2';

export const { Packet } = dns2;
export type Message = InstanceType<typeof dns2.Packet>;

export interface QueryOptions {
  id?: number;
  opcode?: number;
  rd?: boolean;
  edns?: { payload?: number; version?: number; dnssecOk?: boolean };
  qclass?: number;
}

export function buildQuery(name: string, type: number, options: QueryOptions = {}): Buffer {
  const packet = new Packet();
  packet.header.id = options.id ?? 0x4242;
  packet.header.rd = options.rd ? 1 : 0;
  if (options.opcode !== undefined) packet.header.opcode = options.opcode;
  packet.questions.push({ name, type, class: options.qclass ?? 1 } as never);
  if (options.edns) {
    // dns2's typings declare only the first argument; the options object sets version and payload.
    const edns = Packet.Resource.EDNS as unknown as (rdata: unknown[], opts: object) => unknown;
    packet.additionals.push(
      edns([], {
        udpPayloadSize: options.edns.payload ?? 1232,
        version: options.edns.version ?? 0,
        doFlag: options.edns.dnssecOk ?? false,
      }) as never,
    );
  }
  return packet.toBuffer();
}

export function parse(bytes: Uint8Array): Message {
  return Packet.parse(Buffer.from(bytes));
}

export function flagsOf(bytes: Uint8Array): { qr: boolean; aa: boolean; tc: boolean; rd: boolean; opcode: number; rcode: number } {
  const f = (bytes[2] << 8) | bytes[3];
  return { qr: !!(f & 0x8000), aa: !!(f & 0x400), tc: !!(f & 0x200), rd: !!(f & 0x100), opcode: (f >> 11) & 15, rcode: f & 15 };
}

export function udpExchange(host: string, port: number, message: Uint8Array, timeoutMs = 2000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(null);
    }, timeoutMs);
    socket.once('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    });
    socket.send(message, port, host);
  });
}

/** Sends `messages` pipelined on one connection and collects `expect` framed replies. */
export function tcpExchange(host: string, port: number, messages: Uint8Array[], expect = messages.length, timeoutMs = 5000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const replies: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TCP exchange timed out with ${replies.length}/${expect} replies`));
    }, timeoutMs);
    socket.on('connect', () => {
      for (const m of messages) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(m.length);
        socket.write(Buffer.concat([len, m]));
      }
    });
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        replies.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
      if (replies.length >= expect) {
        clearTimeout(timer);
        socket.end();
        resolve(replies);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
