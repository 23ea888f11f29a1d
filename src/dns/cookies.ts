// DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018): a client that has seen one
// of our answers proves it on its next query, so it is not a spoofed source and response-rate
// limiting can leave it alone. The server cookie is version 1, three reserved octets, a 32-bit
// timestamp, and SipHash-2-4 over client cookie | version | reserved | timestamp | client IP
// under a server secret shared by every node of an anycast set (RFC 9018 §4).
import { isIPv4, isIPv6 } from 'node:net';
import { siphash24 } from './siphash.js';

export const COOKIE_OPTION = 10;
const CLIENT_LENGTH = 8;
const SERVER_LENGTH = 16;
/** RFC 9018 §4.3: a cookie is accepted up to an hour old and five minutes in the future. */
const MAX_AGE_SECONDS = 3600;
const MAX_FUTURE_SECONDS = 300;

/** The COOKIE option of a query (RFC 7873 §4): client cookie, and the server cookie if sent. */
export interface QueryCookie {
  client: Uint8Array;
  /** 8 to 32 octets when present (RFC 7873 §4); only our own 16-octet form can be valid. */
  server: Uint8Array | null;
}

/** RFC 7873 §5.2.2: only 8 (client alone) or 16 to 40 octets form a well-formed option. */
export function parseCookieOption(data: Uint8Array): QueryCookie | 'malformed' {
  if (data.length === CLIENT_LENGTH) return { client: data, server: null };
  if (data.length < CLIENT_LENGTH + 8 || data.length > CLIENT_LENGTH + 32) return 'malformed';
  return { client: data.subarray(0, CLIENT_LENGTH), server: data.subarray(CLIENT_LENGTH) };
}

function addressBytes(address: string): Buffer | null {
  const ip = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) return null;
  // Expand `::`, then read eight 16-bit groups (an embedded dotted quad counts as two).
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const groups = (s: string | undefined) =>
    !s ? [] : s.split(':').flatMap((g) => (g.includes('.') ? ((b) => [(b[0] << 8) | b[1], (b[2] << 8) | b[3]])(g.split('.').map(Number)) : [parseInt(g, 16)]));
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

export class CookieSecret {
  constructor(private readonly secret: Buffer) {
    if (secret.length !== 16) throw new RangeError('the DNS cookie secret must be 16 octets');
  }

  /** RFC 9018 §4: the 16-octet server cookie for this client at `nowSeconds`. */
  serverCookie(client: Uint8Array, remote: string, nowSeconds: number, reserved: Uint8Array = RESERVED_ZERO): Buffer | null {
    const ip = addressBytes(remote);
    if (!ip) return null;
    const head = Buffer.allocUnsafe(8);
    head[0] = 1;
    head.set(reserved, 1);
    head.writeUInt32BE(nowSeconds >>> 0, 4);
    return Buffer.concat([head, siphash24(this.secret, Buffer.concat([client, head, ip]))]);
  }

  /** Whether `server` is a cookie we made for this client and address, recently enough. */
  valid(cookie: QueryCookie, remote: string, nowSeconds: number): boolean {
    const server = cookie.server;
    if (!server || server.length !== SERVER_LENGTH || server[0] !== 1) return false;
    const stamp = ((server[4] << 24) >>> 0) + (server[5] << 16) + (server[6] << 8) + server[7];
    // RFC 9018 §4.3: compare with serial-number arithmetic, since the timestamp wraps in 2106.
    const age = (nowSeconds - stamp) | 0;
    if (age > MAX_AGE_SECONDS || age < -MAX_FUTURE_SECONDS) return false;
    const expected = this.serverCookie(cookie.client, remote, stamp, server.subarray(1, 4));
    return expected !== null && Buffer.compare(expected, Buffer.from(server)) === 0;
  }
}

const RESERVED_ZERO = new Uint8Array(3);
