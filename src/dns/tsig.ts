// TSIG (RFC 8945) with HMAC-SHA256, the one algorithm keypost offers (§6: mandatory to implement).
// Used to authenticate zone transfers, the SOA checks secondaries make before them, and the NOTIFY
// messages keypost sends.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { CLASS, TYPE, encodeName, readName, readU16, readU32, skipName, wireKey } from '../protocol/dns-wire.js';

export const HMAC_SHA256 = 'hmac-sha256.';
const ALG_WIRE = encodeName(HMAC_SHA256);
const ALG_KEY = wireKey(ALG_WIRE, 0, ALG_WIRE.length);

/** TSIG error codes (RFC 8945 §3 / IANA "DNS RCODEs"). */
export const TSIG_ERROR = { NONE: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18 } as const;

/** RFC 8945 §10: 300 s is the recommended fudge. */
export const DEFAULT_FUDGE = 300;

export interface TsigRecord {
  /** Offset of the TSIG RR in the message. */
  start: number;
  /** Lowercased wire key of the key name, and its canonical wire form. */
  keyKey: string;
  keyWire: Buffer;
  algorithmKey: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  otherData: Buffer;
}

/** Parses the TSIG RR that starts at `start` (owner name first); null if malformed. */
export function parseTsig(msg: Uint8Array, start: number): TsigRecord | null {
  const owner = readName(msg, start);
  if (!owner) return null;
  let o = owner.next;
  if (o + 10 > msg.length) return null;
  const rdlen = readU16(msg, o + 8);
  const rdEnd = o + 10 + rdlen;
  if (rdEnd > msg.length) return null;
  o += 10;
  const alg = readName(msg, o);
  if (!alg || alg.next + 10 > rdEnd) return null;
  o = alg.next;
  const timeSigned = readU16(msg, o) * 2 ** 32 + readU32(msg, o + 2);
  const fudge = readU16(msg, o + 6);
  const macSize = readU16(msg, o + 8);
  o += 10;
  if (o + macSize + 6 > rdEnd) return null;
  const mac = Buffer.from(msg.subarray(o, o + macSize));
  o += macSize;
  const originalId = readU16(msg, o);
  const error = readU16(msg, o + 2);
  const otherLen = readU16(msg, o + 4);
  o += 6;
  if (o + otherLen !== rdEnd) return null;
  const keyWire = Buffer.from(wireKey(owner.wire, 0, owner.wire.length), 'latin1');
  return {
    start,
    keyKey: keyWire.toString('latin1'),
    keyWire,
    algorithmKey: wireKey(alg.wire, 0, alg.wire.length),
    timeSigned,
    fudge,
    mac,
    originalId,
    error,
    otherData: Buffer.from(msg.subarray(o, rdEnd)),
  };
}

function time48(seconds: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(seconds / 2 ** 32), 0);
  b.writeUInt32BE(seconds % 2 ** 32, 2);
  return b;
}

/** §4.3.3 "TSIG Variables": what is hashed after the message. */
function variables(keyWire: Buffer, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(error, 0);
  tail.writeUInt16BE(other.length, 2);
  const classTtl = Buffer.from([0, CLASS.ANY, 0, 0, 0, 0]);
  const fudgeBytes = Buffer.alloc(2);
  fudgeBytes.writeUInt16BE(fudge);
  return Buffer.concat([keyWire, classTtl, ALG_WIRE, time48(timeSigned), fudgeBytes, tail, other]);
}

function macLength(mac: Buffer): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(mac.length);
  return b;
}

/** The message as it was before the TSIG RR was added: TSIG cut off, ARCOUNT-1, original ID. */
function strippedMessage(msg: Uint8Array, tsig: TsigRecord): Buffer {
  const body = Buffer.from(msg.subarray(0, tsig.start));
  body.writeUInt16BE(tsig.originalId, 0);
  body.writeUInt16BE(readU16(body, 10) - 1, 10);
  return body;
}

export type TsigVerdict = { ok: true } | { ok: false; error: number };

/** §5.2: verify a signed request. BADKEY for unknown keys or algorithms, BADSIG, then BADTIME. */
export function verifyRequest(msg: Uint8Array, tsig: TsigRecord, secret: Buffer | undefined, nowSeconds: number): TsigVerdict {
  if (!secret || tsig.algorithmKey !== ALG_KEY) return { ok: false, error: TSIG_ERROR.BADKEY };
  const expected = createHmac('sha256', secret)
    .update(strippedMessage(msg, tsig))
    .update(variables(tsig.keyWire, tsig.timeSigned, tsig.fudge, tsig.error, tsig.otherData))
    .digest();
  // §5.2.2.1: a truncated MAC is acceptable down to half the output, never below 10 octets; we
  // compare the octets that were sent.
  if (tsig.mac.length < 16 || tsig.mac.length > expected.length) return { ok: false, error: TSIG_ERROR.BADSIG };
  if (!timingSafeEqual(tsig.mac, expected.subarray(0, tsig.mac.length))) return { ok: false, error: TSIG_ERROR.BADSIG };
  if (Math.abs(nowSeconds - tsig.timeSigned) > tsig.fudge) return { ok: false, error: TSIG_ERROR.BADTIME };
  return { ok: true };
}

function tsigRR(keyWire: Buffer, timeSigned: number, fudge: number, mac: Buffer, originalId: number, error: number, other: Buffer): Buffer {
  const rdata = Buffer.concat([
    ALG_WIRE,
    time48(timeSigned),
    Buffer.from([fudge >> 8, fudge & 0xff, mac.length >> 8, mac.length & 0xff]),
    mac,
    Buffer.from([originalId >> 8, originalId & 0xff, error >> 8, error & 0xff, other.length >> 8, other.length & 0xff]),
    other,
  ]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE.TSIG, 0);
  fixed.writeUInt16BE(CLASS.ANY, 2);
  fixed.writeUInt32BE(0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([keyWire, fixed, rdata]);
}

function appendRR(msg: Uint8Array, rr: Buffer): Buffer {
  const out = Buffer.concat([msg, rr]);
  out.writeUInt16BE(readU16(out, 10) + 1, 10);
  return out;
}

export interface SignOptions {
  keyWire: Buffer;
  secret: Buffer;
  nowSeconds: number;
  fudge?: number;
}

/** Signs a request (NOTIFY). Returns the signed message and its MAC. */
export function signRequest(msg: Uint8Array, opts: SignOptions): { message: Buffer; mac: Buffer } {
  const fudge = opts.fudge ?? DEFAULT_FUDGE;
  const mac = createHmac('sha256', opts.secret)
    .update(msg)
    .update(variables(opts.keyWire, opts.nowSeconds, fudge, 0, Buffer.alloc(0)))
    .digest();
  return { message: appendRR(msg, tsigRR(opts.keyWire, opts.nowSeconds, fudge, mac, readU16(msg, 0), 0, Buffer.alloc(0))), mac };
}

/** §5.3: signs the (first) response to a signed request; `error` is 0 or BADTIME (§5.2.3). */
export function signResponse(msg: Uint8Array, requestMac: Buffer, opts: SignOptions, error = 0): { message: Buffer; mac: Buffer } {
  const fudge = opts.fudge ?? DEFAULT_FUDGE;
  // §5.2.3: a BADTIME response carries the server's time in Other Data.
  const other = error === TSIG_ERROR.BADTIME ? time48(opts.nowSeconds) : Buffer.alloc(0);
  const mac = createHmac('sha256', opts.secret)
    .update(macLength(requestMac))
    .update(requestMac)
    .update(msg)
    .update(variables(opts.keyWire, opts.nowSeconds, fudge, error, other))
    .digest();
  return { message: appendRR(msg, tsigRR(opts.keyWire, opts.nowSeconds, fudge, mac, readU16(msg, 0), error, other)), mac };
}

/** §5.3.1: later messages of a multi-message answer (AXFR) hash the prior MAC and timers only. */
export function signSubsequent(msg: Uint8Array, priorMac: Buffer, opts: SignOptions): { message: Buffer; mac: Buffer } {
  const fudge = opts.fudge ?? DEFAULT_FUDGE;
  const timers = Buffer.concat([time48(opts.nowSeconds), Buffer.from([fudge >> 8, fudge & 0xff])]);
  const mac = createHmac('sha256', opts.secret).update(macLength(priorMac)).update(priorMac).update(msg).update(timers).digest();
  return { message: appendRR(msg, tsigRR(opts.keyWire, opts.nowSeconds, fudge, mac, readU16(msg, 0), 0, Buffer.alloc(0))), mac };
}

/** §5.2: an unsigned TSIG (empty MAC) reporting BADKEY or BADSIG. */
export function unsignedError(msg: Uint8Array, tsig: TsigRecord, error: number, nowSeconds: number): Buffer {
  return appendRR(msg, tsigRR(tsig.keyWire, nowSeconds, tsig.fudge, Buffer.alloc(0), readU16(msg, 0), error, Buffer.alloc(0)));
}

/** The TSIG RR of a message: the last record of the additional section (RFC 8945 §5.1), or null. */
export function findTsig(msg: Uint8Array): TsigRecord | null {
  if (msg.length < 12) return null;
  const counts = [readU16(msg, 4), readU16(msg, 6), readU16(msg, 8), readU16(msg, 10)];
  if (counts[3] === 0) return null;
  let o = 12;
  for (let i = 0; i < counts[0]; i++) {
    const next = skipName(msg, o);
    if (next < 0) return null;
    o = next + 4;
  }
  const records = counts[1] + counts[2] + counts[3];
  for (let i = 0; i < records; i++) {
    const start = o;
    const next = skipName(msg, o);
    if (next < 0 || next + 10 > msg.length) return null;
    o = next + 10 + readU16(msg, next + 8);
    if (o > msg.length) return null;
    if (i === records - 1) return readU16(msg, next) === TYPE.TSIG ? parseTsig(msg, start) : null;
  }
  return null;
}

/** Verifies a signed response to a request we signed (used for NOTIFY acknowledgements). */
export function verifyResponse(msg: Uint8Array, tsig: TsigRecord, requestMac: Buffer, secret: Buffer, nowSeconds: number): boolean {
  if (tsig.algorithmKey !== ALG_KEY || tsig.mac.length === 0) return false;
  const expected = createHmac('sha256', secret)
    .update(macLength(requestMac))
    .update(requestMac)
    .update(strippedMessage(msg, tsig))
    .update(variables(tsig.keyWire, tsig.timeSigned, tsig.fudge, tsig.error, tsig.otherData))
    .digest();
  return (
    tsig.mac.length <= expected.length &&
    tsig.mac.length >= 16 &&
    timingSafeEqual(tsig.mac, expected.subarray(0, tsig.mac.length)) &&
    Math.abs(nowSeconds - tsig.timeSigned) <= tsig.fudge
  );
}
