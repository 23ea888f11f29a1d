// DNS NOTIFY (RFC 1996) to a zone's secondaries after every change, so they transfer promptly
// instead of waiting for their refresh timer. Sent over UDP, signed with the secondary's TSIG key
// when one is configured, and retried with backoff until the secondary answers (RFC 1996 §3.6).
// Only a reply from the address and port notified counts as an answer, and when the secondary has
// a TSIG key, only one signed with it over our request (RFC 8945 §5.3): anyone else who guesses
// the 16-bit id could otherwise stop the retries.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { findTsig, signRequest, verifyResponse } from './tsig.js';
import type { Secondary, ZoneSnapshot } from './zone-snapshot.js';
import { CLASS, FLAG, HEADER_LENGTH, OPCODE, TYPE, readName, readU16 } from '../protocol/dns-wire.js';

export interface NotifierOptions {
  /** Delay before the first retry; doubles after each (RFC 1996 §3.6 leaves the interval open). */
  retryDelayMs?: number;
  attempts?: number;
  /**
   * At most one NOTIFY round per zone in this interval; changes in between are announced together
   * at its end. Each NOTIFY makes secondaries transfer the whole zone, so a zone that takes many
   * publishes a second should not trigger as many transfers.
   */
  minIntervalMs?: number;
}

interface Pending {
  zone: string;
  /** Lowercased wire form of the apex. */
  zoneWire: string;
  target: string;
  /** Where the reply must come from. */
  address: string;
  port: number;
  /** Key and request MAC the reply must be signed with, when the secondary has a key. */
  tsig?: { keyKey: string; secret: Buffer; requestMac: Buffer };
  timer?: NodeJS.Timeout;
}

const normalizeAddress = (address: string) => (address.startsWith('::ffff:') ? address.slice(7) : address.toLowerCase());

/** The NOTIFY message for a zone: QUESTION apex/SOA, and the new SOA in ANSWER (§3.7). */
export function notifyMessage(zone: ZoneSnapshot, id: number): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE((OPCODE.NOTIFY << 11) | FLAG.AA, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 6);
  const question = Buffer.alloc(4);
  question.writeUInt16BE(TYPE.SOA, 0);
  question.writeUInt16BE(CLASS.IN, 2);
  return Buffer.concat([header, zone.apexWire, question, zone.soa.wire]);
}

export class Notifier {
  private sockets = new Map<'udp4' | 'udp6', Socket>();
  private pending = new Map<number, Pending>();
  private closed = false;
  private readonly retryDelayMs: number;
  private readonly attempts: number;
  private readonly minIntervalMs: number;
  private lastRound = new Map<string, number>();
  private trailing = new Map<string, { timer: NodeJS.Timeout; zone: ZoneSnapshot }>();

  constructor(
    private readonly log: Logger,
    options: NotifierOptions = {},
  ) {
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.attempts = options.attempts ?? 6;
    this.minIntervalMs = options.minIntervalMs ?? 2000;
  }

  private socket(family: 'udp4' | 'udp6'): Socket {
    let socket = this.sockets.get(family);
    if (!socket) {
      socket = createSocket(family);
      socket.on('message', (msg, rinfo) => this.onReply(msg, rinfo));
      socket.on('error', (err) => this.log.warn({ err }, 'notify socket error'));
      socket.unref();
      this.sockets.set(family, socket);
    }
    return socket;
  }

  private onReply(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < HEADER_LENGTH) return;
    const id = readU16(msg, 0);
    const flags = readU16(msg, 2);
    const entry = this.pending.get(id);
    if (!entry || !(flags & FLAG.QR) || ((flags >> 11) & 0xf) !== OPCODE.NOTIFY) return;
    if (normalizeAddress(rinfo.address) !== entry.address || rinfo.port !== entry.port) {
      this.log.debug({ zone: entry.zone, target: entry.target, from: `${rinfo.address}#${rinfo.port}` }, 'NOTIFY reply from elsewhere ignored');
      return;
    }
    // The reply must be about the zone we notified (guards against stray replies on the port).
    const name = readName(msg, HEADER_LENGTH);
    if (!name || name.wire.toString('latin1').toLowerCase() !== entry.zoneWire) return;
    if (entry.tsig) {
      const tsig = findTsig(msg);
      const now = Math.floor(Date.now() / 1000);
      if (!tsig || tsig.keyKey !== entry.tsig.keyKey || !verifyResponse(msg, tsig, entry.tsig.requestMac, entry.tsig.secret, now)) {
        this.log.warn({ zone: entry.zone, target: entry.target }, 'NOTIFY reply without a valid TSIG ignored');
        return;
      }
    }
    clearTimeout(entry.timer);
    this.pending.delete(id);
    const rcode = flags & 0xf;
    if (rcode !== 0) this.log.warn({ zone: entry.zone, target: entry.target, rcode }, 'secondary refused NOTIFY');
    else this.log.debug({ zone: entry.zone, target: entry.target }, 'secondary acknowledged NOTIFY');
  }

  /** Notify every secondary of `zone`; an older notification still being retried is superseded. */
  notify(zone: ZoneSnapshot): void {
    if (this.closed || zone.secondaries.length === 0) return;
    const pending = this.trailing.get(zone.apex);
    if (pending) {
      pending.zone = zone;
      return;
    }
    const wait = (this.lastRound.get(zone.apex) ?? -Infinity) + this.minIntervalMs - Date.now();
    if (wait > 0) {
      const entry = { zone, timer: setTimeout(() => {
        this.trailing.delete(zone.apex);
        this.notify(entry.zone);
      }, wait) };
      entry.timer.unref();
      this.trailing.set(zone.apex, entry);
      return;
    }
    this.lastRound.set(zone.apex, Date.now());
    for (const secondary of zone.secondaries) this.start(zone, secondary);
  }

  private start(zone: ZoneSnapshot, secondary: Secondary): void {
    const target = `${secondary.address}#${secondary.port}`;
    for (const [id, p] of this.pending) {
      if (p.zone === zone.apex && p.target === target) {
        clearTimeout(p.timer);
        this.pending.delete(id);
      }
    }
    let id = randomInt(0x10000);
    while (this.pending.has(id)) id = (id + 1) & 0xffff;
    let message: Buffer = notifyMessage(zone, id);
    let tsig: Pending['tsig'];
    if (secondary.tsigKey) {
      const secret = zone.tsigKeys.get(secondary.tsigKey);
      if (!secret) {
        this.log.warn({ zone: zone.apex, target }, 'NOTIFY not sent: the secondary\'s TSIG key is not defined for the zone');
        return;
      }
      const keyWire = Buffer.from(secondary.tsigKey, 'latin1');
      const signed = signRequest(message, { keyWire, secret, nowSeconds: Math.floor(Date.now() / 1000) });
      message = signed.message;
      tsig = { keyKey: secondary.tsigKey, secret, requestMac: signed.mac };
    }
    const entry: Pending = { zone: zone.apex, zoneWire: zone.apexKey, target, address: normalizeAddress(secondary.address), port: secondary.port, tsig };
    this.pending.set(id, entry);
    const socket = this.socket(isIPv6(secondary.address) ? 'udp6' : 'udp4');
    let attempt = 0;
    const send = () => {
      if (this.closed || this.pending.get(id) !== entry) return;
      if (attempt >= this.attempts) {
        this.pending.delete(id);
        this.log.warn({ zone: zone.apex, target }, 'secondary did not answer NOTIFY');
        return;
      }
      const delay = this.retryDelayMs * 2 ** attempt++;
      try {
        socket.send(message, secondary.port, secondary.address);
      } catch (err) {
        this.log.warn({ err, zone: zone.apex, target }, 'NOTIFY send failed');
      }
      entry.timer = setTimeout(send, delay);
      entry.timer.unref();
    };
    send();
  }

  /** Zones with a NOTIFY still waiting for an answer (for tests and health output). */
  outstanding(): number {
    return this.pending.size;
  }

  close(): void {
    this.closed = true;
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    for (const t of this.trailing.values()) clearTimeout(t.timer);
    this.trailing.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
