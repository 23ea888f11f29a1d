// A small stub resolver for the record types node:dns cannot ask for (OPENPGPKEY, CERT). It sends
// each query over UDP and repeats it over TCP when the answer comes back truncated (RFC 7766 §5;
// RFC 7929 §5 expects that for large OPENPGPKEY answers). The server is the one given on the command
// line (`--dns host:port`), else the first reachable `nameserver` of /etc/resolv.conf.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIP, connect } from 'node:net';
import { KeypostError } from '../errors.js';
import { CLIENT_CODES } from './errors.js';
import { RCODE, rcodeName } from '../protocol/dns-wire.js';
import { buildQuery, parseResponse, type DnsResponse } from './dns-message.js';

export interface DnsServer {
  host: string;
  port: number;
}

export interface StubResolverOptions {
  /** Servers to ask, in order; default: /etc/resolv.conf. */
  servers?: DnsServer[];
  /** Per-attempt timeout. */
  timeoutMs?: number;
  /** Rounds over all servers before giving up. */
  attempts?: number;
}

export interface StubResolver {
  /** NOERROR or NXDOMAIN from some server; throws CLIENT_DNS_FAILED when none answered usefully. */
  query(name: string, type: number): Promise<DnsResponse>;
}

/**
 * The `nameserver` lines of resolv.conf(5), port 53. The bracketed `[addr]:port` form some stub
 * resolvers accept is read too. With none configured the C library asks the local host, so do we.
 */
export function systemServers(path = '/etc/resolv.conf'): DnsServer[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // No resolv.conf: same fallback as the C library.
  }
  const servers: DnsServer[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!match) continue;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(match[1]);
    const host = (bracketed ? bracketed[1] : match[1]).replace(/%.*$/, '');
    const port = bracketed?.[2] ? Number(bracketed[2]) : 53;
    if (isIP(host) && port > 0 && port < 65536) servers.push({ host, port });
  }
  return servers.length ? servers : [{ host: '127.0.0.1', port: 53 }];
}

/** `host:port`, `[v6]:port` or a bare address (port 53). */
export function parseServer(text: string): DnsServer | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(text.trim()) ?? /^([0-9a-fA-F:]+)$/.exec(text.trim());
  if (!match) return undefined;
  const host = match[1] ?? match[2];
  const port = match[3] === undefined ? 53 : Number(match[3]);
  if (!isIP(host) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

function udpExchange(server: DnsServer, query: Buffer, id: number, name: string, type: number, timeoutMs: number): Promise<DnsResponse | null> {
  return new Promise((resolve) => {
    const socket = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    const finish = (result: DnsResponse | null) => {
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('error', () => finish(null));
    socket.on('message', (message, peer) => {
      // Only the server we asked, with our ID and question, may answer (RFC 5452 §9.1).
      if (peer.port !== server.port || peer.address !== server.host) return;
      const parsed = parseResponse(message, id, name, type);
      if (parsed) finish(parsed);
    });
    socket.send(query, server.port, server.host, (err) => {
      if (err) finish(null);
    });
  });
}

function tcpExchange(server: DnsServer, query: Buffer, id: number, name: string, type: number, timeoutMs: number): Promise<DnsResponse | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: server.host, port: server.port });
    let buffered = Buffer.alloc(0);
    const finish = (result: DnsResponse | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('error', () => finish(null));
    socket.on('connect', () => {
      // RFC 1035 §4.2.2: each message is prefixed with its length as two octets.
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length);
      socket.write(Buffer.concat([length, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2 || buffered.length < 2 + buffered.readUInt16BE(0)) return;
      finish(parseResponse(buffered.subarray(2, 2 + buffered.readUInt16BE(0)), id, name, type));
    });
    socket.on('end', () => finish(null));
  });
}

export function createStubResolver(options: StubResolverOptions = {}): StubResolver {
  const servers = options.servers?.length ? options.servers : systemServers();
  const timeoutMs = options.timeoutMs ?? 3000;
  const attempts = options.attempts ?? 2;

  async function ask(server: DnsServer, name: string, type: number): Promise<DnsResponse | null> {
    const id = randomInt(0, 0x10000);
    const query = buildQuery(id, name, type);
    const answer = await udpExchange(server, query, id, name, type, timeoutMs);
    if (!answer?.truncated) return answer;
    return tcpExchange(server, query, id, name, type, timeoutMs);
  }

  return {
    async query(name, type) {
      let last = 'no answer';
      for (let round = 0; round < attempts; round++) {
        for (const server of servers) {
          const answer = await ask(server, name, type);
          const where = `${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
          if (!answer) {
            last = `no answer from ${where}`;
            continue;
          }
          // Names that do not exist and names without this type are both answers; anything else
          // (SERVFAIL, REFUSED, ...) says this server cannot tell, so ask the next one.
          if (answer.rcode === RCODE.NOERROR || answer.rcode === RCODE.NXDOMAIN) return answer;
          last = `${where} answered ${rcodeName(answer.rcode)} for ${name}`;
        }
      }
      throw new KeypostError(CLIENT_CODES.dnsFailed, `DNS lookup of ${name} failed: ${last}`);
    },
  };
}
