// Zone transfer (RFC 5936 AXFR; IXFR requests from a secondary that is behind get the full zone,
// RFC 1995 §4, and one that is current gets the single SOA, RFC 1995 §2) to the secondaries
// listed for the zone: the peer's address must be on the list, and when that entry names a TSIG key
// the request must be signed with it (RFC 5936 §6). The zone is streamed as a series of messages,
// SOA first and last, from one snapshot, so a publish during the transfer cannot tear it.
import { answer, errorResponse, findZone, type AnswerContext } from './answer.js';
import { parseQuery, type Query } from './query.js';
import { signResponse, signSubsequent, unsignedError, verifyRequest, TSIG_ERROR } from './tsig.js';
import type { SnapshotSet, ZoneSnapshot } from './zone-snapshot.js';
import { transferContents, type TransferContents } from './transfer-contents.js';
import { transferAcl } from './acl.js';
import { FLAG, HEADER_LENGTH, RCODE, TYPE, readU16, readU32, skipName } from '../protocol/dns-wire.js';

/** Messages are filled to about this size; well under the 64 KiB TCP limit (RFC 5936 §2.2). */
const MESSAGE_TARGET = 16_384;

function header(id: number, flags: number, qd: number, an: number): Buffer {
  const h = Buffer.alloc(HEADER_LENGTH);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  return h;
}

/** Unsigned refusal (or NOTAUTH with the TSIG error when the key was the problem). */
function refuse(msg: Uint8Array, q: Query, rcode: number, tsigError?: number, now = 0): Uint8Array {
  const reply = errorResponse(msg, q.id, q.flags, rcode, q.questionEnd, q.edns);
  return q.tsig && tsigError !== undefined ? unsignedError(reply, q.tsig, tsigError, now) : reply;
}

/** The records of a transfer, one RR at a time: owner (relative labels + pointer) and RR tail. */
function* transferRecords(zone: ZoneSnapshot, contents: TransferContents): Generator<[string, Buffer]> {
  const soaTail = zone.soa.wire.subarray(2);
  yield ['', soaTail];
  yield ['', contents.zonemd.wire.subarray(2)];
  for (const [owner, node] of contents.nodes()) {
    for (const set of node) {
      if (owner === '' && set.type === TYPE.SOA) continue;
      let o = 0;
      while (o < set.wire.length) {
        const len = set.wire.readUInt16BE(o + 10);
        yield [owner, set.wire.subarray(o + 2, o + 12 + len)];
        o += 12 + len;
      }
    }
  }
  yield ['', soaTail];
}

/**
 * The transfer as wire messages. The first carries the question (the apex at offset 12); later
 * ones have no question, so their first record spells the apex out and the rest point at it.
 */
function* transferMessages(msg: Uint8Array, q: Query, zone: ZoneSnapshot, contents: TransferContents): Generator<Buffer> {
  const flags = FLAG.QR | FLAG.AA;
  let parts: Buffer[] = [];
  let size = 0;
  let count = 0;
  let apexPointer = -1;
  let first = true;
  const start = () => {
    parts = [];
    count = 0;
    if (first) {
      parts.push(Buffer.from(msg.subarray(HEADER_LENGTH, q.questionEnd)));
      size = q.questionEnd;
      apexPointer = HEADER_LENGTH;
    } else {
      size = HEADER_LENGTH;
      apexPointer = -1;
    }
  };
  const finish = () => {
    const out = Buffer.concat([header(q.id, flags, first ? 1 : 0, count), ...parts]);
    first = false;
    return out;
  };
  start();
  for (const [owner, tail] of transferRecords(zone, contents)) {
    const ownerBytes = Buffer.from(owner, 'latin1');
    const nameLength = ownerBytes.length + (apexPointer < 0 ? zone.apexWire.length : 2);
    if (count > 0 && size + nameLength + tail.length > MESSAGE_TARGET) {
      yield finish();
      start();
    }
    // Owner: relative labels, then the apex spelled out once per message and pointed at after.
    const suffix = apexPointer < 0 ? zone.apexWire : Buffer.from([0xc0 | (apexPointer >> 8), apexPointer & 0xff]);
    if (apexPointer < 0) apexPointer = size + ownerBytes.length;
    parts.push(ownerBytes, suffix, tail);
    size += ownerBytes.length + suffix.length + tail.length;
    count++;
  }
  yield finish();
}

function* signedMessages(messages: Iterable<Buffer>, requestMac: Buffer, keyWire: Buffer, secret: Buffer, now: number): Generator<Buffer> {
  let prior: Buffer | undefined;
  for (const m of messages) {
    const opts = { keyWire, secret, nowSeconds: now };
    const signed = prior ? signSubsequent(m, prior, opts) : signResponse(m, requestMac, opts);
    prior = signed.mac;
    yield signed.message;
  }
}

/** The serial of the SOA a secondary sends in an IXFR's authority section (RFC 1995 §3). */
function ixfrSerial(msg: Uint8Array, q: Query): number | undefined {
  if (readU16(msg, 6) !== 0 || readU16(msg, 8) < 1) return undefined;
  let o = skipName(msg, q.questionEnd);
  if (o < 0 || o + 10 > msg.length || readU16(msg, o) !== TYPE.SOA) return undefined;
  o += 10;
  o = skipName(msg, o); // MNAME
  if (o >= 0) o = skipName(msg, o); // RNAME
  return o >= 0 && o + 4 <= msg.length ? readU32(msg, o) : undefined;
}

/** RFC 1982 §3.2: serial a is older than b. */
function serialLess(a: number, b: number): boolean {
  return a !== b && ((a < b && b - a < 2 ** 31) || (a > b && a - b > 2 ** 31));
}

/** One message: the question and the current SOA, its owner pointing at the question's apex. */
function currentSoa(msg: Uint8Array, q: Query, zone: ZoneSnapshot): Buffer {
  const h = header(q.id, FLAG.QR | FLAG.AA, 1, zone.soa.count);
  return Buffer.concat([h, msg.subarray(HEADER_LENGTH, q.questionEnd), zone.soa.wire]);
}

export type MessageStream = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** AXFR/IXFR over TCP: the whole zone as messages, or a single refusal. */
export function transfer(set: SnapshotSet, msg: Uint8Array, q: Query, ctx: AnswerContext): MessageStream {
  const now = ctx.nowSeconds ?? Math.floor(Date.now() / 1000);
  const match = findZone(set, q);
  // RFC 5936 §2.2.1: the question must name the apex of a zone we serve.
  if (!match || match.apexLabel !== 0) return [refuse(msg, q, match ? RCODE.NOTAUTH : RCODE.REFUSED)];
  const zone = match.zone;
  const acl = transferAcl(zone, ctx.remote);
  if (!acl.allowed) return [refuse(msg, q, RCODE.REFUSED)];
  let key: { keyWire: Buffer; secret: Buffer } | undefined;
  if (q.tsig) {
    const secret = zone.tsigKeys.get(q.tsig.keyKey);
    const verdict = verifyRequest(msg, q.tsig, secret, now);
    if (!verdict.ok || (acl.tsigKey && acl.tsigKey !== q.tsig.keyKey)) {
      return [refuse(msg, q, RCODE.NOTAUTH, verdict.ok ? TSIG_ERROR.BADKEY : verdict.error, now)];
    }
    key = { keyWire: q.tsig.keyWire, secret: secret! };
  } else if (acl.tsigKey) {
    return [refuse(msg, q, RCODE.NOTAUTH)];
  }
  if (q.qtype === TYPE.IXFR) {
    const held = ixfrSerial(msg, q);
    if (held !== undefined && !serialLess(held, zone.serial)) {
      const reply = currentSoa(msg, q, zone);
      return [key ? signResponse(reply, q.tsig!.mac, { ...key, nowSeconds: now }).message : reply];
    }
  }
  return (async function* () {
    // The digest (and for a signed zone, the signatures and NSEC3 chain) of a large zone take a
    // while; they are made in slices while answering goes on, once per snapshot.
    const contents = await transferContents(zone, now);
    const messages = transferMessages(msg, q, zone, contents);
    yield* key ? signedMessages(messages, q.tsig!.mac, key.keyWire, key.secret, now) : messages;
  })();
}

/**
 * On a worker thread (dns-workers.ts): streams from the loading thread what only it answers over
 * TCP, the transfers and what answer() hands off (TSIG, ZONEMD); see tcp-handoff.ts.
 */
export type TcpHandOff = (msg: Uint8Array) => MessageStream;

/** What the TCP listener calls: transfers stream, everything else is one answer. */
export function answerTcp(set: SnapshotSet, msg: Uint8Array, ctx: AnswerContext, handOff?: TcpHandOff): MessageStream | Uint8Array | null {
  if (msg.length >= HEADER_LENGTH) {
    const parsed = parseQuery(msg);
    if (parsed.kind === 'query' && (parsed.query.qtype === TYPE.AXFR || parsed.query.qtype === TYPE.IXFR)) {
      const q = parsed.query;
      if (q.edns && q.edns.version !== 0) return answer(set, msg, ctx);
      return handOff ? handOff(msg) : transfer(set, msg, q, ctx);
    }
  }
  if (!handOff) return answer(set, msg, ctx);
  let handed = false;
  const reply = answer(set, msg, {
    ...ctx,
    handOff: () => {
      handed = true;
    },
  });
  return handed ? handOff(msg) : reply;
}
