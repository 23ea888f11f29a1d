// NOTIFY (RFC 1996) as a secondary sees it: opcode 4 with AA and the apex SOA, signed with the
// secondary's TSIG key, retried until acknowledged, and bursts of changes gathered into fewer rounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Notifier } from '../../src/dns/notify.js';
import { parseTsig, signResponse, verifyRequest } from '../../src/dns/tsig.js';
import { skipName } from '../../src/protocol/dns-wire.js';
import { buildZoneSnapshot, type ZoneSnapshot } from '../../src/dns/zone-snapshot.js';
import { flagsOf, parse } from './support/wire-client.js';

const secret = randomBytes(32);

/** A well-formed acknowledgement of `notify`: the header with QR set and the question. */
function acknowledgement(notify: Buffer): Buffer {
  const reply = Buffer.from(notify.subarray(0, notify.indexOf(0, 12) + 5));
  reply.writeUInt16BE(1, 4);
  reply.writeUInt16BE(0, 6);
  reply.writeUInt16BE(0, 10);
  reply[2] |= 0x80;
  return reply;
}

/** The acknowledgement signed with the `xfr` key over the request's MAC (RFC 8945 §5.3). */
function signedAcknowledgement(notify: Buffer): Buffer {
  let o = skipName(notify, 12) + 4;
  o = skipName(notify, o);
  o += 10 + notify.readUInt16BE(o + 8);
  const request = parseTsig(notify, o)!;
  const keyWire = Buffer.from('\x03xfr\x00', 'latin1');
  return signResponse(acknowledgement(notify), request.mac, { keyWire, secret, nowSeconds: Math.floor(Date.now() / 1000) }).message;
}

type Answer = 'none' | 'plain' | 'signed';

async function secondary(answers: Answer): Promise<{ socket: Socket; port: number; received: { at: number; msg: Buffer }[] }> {
  const socket = createSocket('udp4');
  const received: { at: number; msg: Buffer }[] = [];
  socket.on('message', (msg, rinfo) => {
    received.push({ at: Date.now(), msg });
    if (answers !== 'none') socket.send(answers === 'signed' ? signedAcknowledgement(msg) : acknowledgement(msg), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { socket, port: socket.address().port, received };
}

function zone(port: number, serial: number, tsig: boolean): ZoneSnapshot {
  return buildZoneSnapshot(
    {
      name: 'notify.test',
      serial,
      powBits: null,
      endpoint: null,
      apiUrl: null,
      dns: {
        nameservers: [],
        secondaries: [{ address: '127.0.0.1', port, tsigKey: tsig ? 'xfr' : undefined }],
        tsigKeys: { xfr: secret.toString('base64') },
      },
    },
    [],
    { powBits: 20 },
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const waitUntil = async (what: string, ok: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
};

/** The SOA serial each NOTIFY a secondary received announced, in order. */
const serials = (peer: { received: { msg: Buffer }[] }) => peer.received.map((r) => (parse(r.msg).answers[0] as unknown as { serial: number }).serial);

/**
 * Sends a later, distinct change and waits for its NOTIFY. Anything the notifier still had to send
 * about earlier serials (a retry, another round) would have reached the secondary before it, so
 * what arrived before it is all that ever will.
 */
async function laterChange(notifier: Notifier, peer: { port: number; received: { msg: Buffer }[] }, serial: number, tsig = false): Promise<number[]> {
  notifier.notify(zone(peer.port, serial, tsig));
  await waitUntil(`the NOTIFY for serial ${serial}`, () => serials(peer).includes(serial));
  const seen = serials(peer);
  return seen.slice(0, seen.indexOf(serial));
}

test('NOTIFY carries opcode 4, AA, the apex and the new SOA, signed with the TSIG key', async () => {
  const peer = await secondary('signed');
  // A retry would come 100 ms after the first send; the next round no earlier than 300 ms.
  const notifier = new Notifier(pino({ level: 'silent' }), { retryDelayMs: 100, minIntervalMs: 300 });
  try {
    notifier.notify(zone(peer.port, 42, true));
    await waitUntil('the acknowledgement', () => peer.received.length >= 1 && notifier.outstanding() === 0);
    // Acknowledged, so never sent again.
    assert.deepEqual(await laterChange(notifier, peer, 43, true), [42]);
    const msg = peer.received[0].msg;
    const flags = flagsOf(msg);
    assert.equal(flags.opcode, 4);
    assert.ok(flags.aa && !flags.qr);
    const m = parse(msg);
    assert.equal(m.questions[0].name, 'notify.test');
    assert.equal((m.answers[0] as unknown as { serial: number }).serial, 42);
    // The TSIG RR follows the question and the one SOA in the answer section.
    let o = skipName(msg, 12) + 4;
    o = skipName(msg, o);
    o += 10 + msg.readUInt16BE(o + 8);
    const tsig = parseTsig(msg, o)!;
    assert.equal(tsig.keyKey, '\x03xfr\x00');
    const now = Math.floor(Date.now() / 1000);
    assert.deepEqual(verifyRequest(msg, tsig, secret, now), { ok: true });
    assert.equal(verifyRequest(msg, tsig, randomBytes(32), now).ok, false);
  } finally {
    notifier.close();
    peer.socket.close();
  }
});

test('unanswered NOTIFY is retried; a burst of changes makes two rounds, not five', async () => {
  const silent = await secondary('none');
  const notifier = new Notifier(pino({ level: 'silent' }), { retryDelayMs: 100, attempts: 3, minIntervalMs: 400 });
  try {
    notifier.notify(zone(silent.port, 1, false));
    // It gives up after the last retry has had its time; nothing about serial 1 is sent after that.
    await waitUntil('the notifier to give up', () => silent.received.length >= 1 && notifier.outstanding() === 0);
    assert.deepEqual(await laterChange(notifier, silent, 2), [1, 1, 1], 'first send and two retries');
  } finally {
    notifier.close();
    silent.socket.close();
  }
  const peer = await secondary('plain');
  const burst = new Notifier(pino({ level: 'silent' }), { minIntervalMs: 400 });
  try {
    for (let serial = 10; serial < 15; serial++) {
      burst.notify(zone(peer.port, serial, false));
      await sleep(20);
    }
    await waitUntil('the round for the end of the burst', () => serials(peer).includes(14));
    // A change after the second round makes a third; any other round would have come before it.
    assert.deepEqual(await laterChange(burst, peer, 15), [10, 14], 'the first change at once, the rest together with the latest serial');
    assert.ok(peer.received[1].at - peer.received[0].at >= 350);
    assert.ok(peer.received[2].at - peer.received[1].at >= 350, 'the later change waits out the interval too');
  } finally {
    burst.close();
    peer.socket.close();
  }
});

test('a NOTIFY reply from another address than the secondary does not stop the retries', async () => {
  const silent = await secondary('none');
  const forger = createSocket('udp4');
  await new Promise<void>((r) => forger.bind(0, '127.0.0.2', () => r()));
  const notifier = new Notifier(pino({ level: 'silent' }), { retryDelayMs: 200, attempts: 4 });
  try {
    // The forger sees the NOTIFY (same id, same question) and answers it first, from elsewhere.
    silent.socket.on('message', (msg, rinfo) => forger.send(acknowledgement(msg), rinfo.port, rinfo.address));
    notifier.notify(zone(silent.port, 5, false));
    await waitUntil('the retry to reach the secondary', () => silent.received.length >= 2);
    assert.equal(notifier.outstanding(), 1);
  } finally {
    notifier.close();
    silent.socket.close();
    forger.close();
  }
});

test('with TSIG, only a reply signed with the secondary key over our request acknowledges a NOTIFY', async () => {
  const peer = await secondary('none');
  const notifier = new Notifier(pino({ level: 'silent' }), { retryDelayMs: 200, attempts: 6 });
  try {
    let signedReplies = false;
    peer.socket.on('message', (msg, rinfo) => {
      if (!signedReplies) {
        // Right address, no signature: not an acknowledgement.
        peer.socket.send(acknowledgement(msg), rinfo.port, rinfo.address);
        return;
      }
      peer.socket.send(signedAcknowledgement(msg), rinfo.port, rinfo.address);
    });
    notifier.notify(zone(peer.port, 6, true));
    await waitUntil('a retry after the unsigned reply', () => peer.received.length >= 2);
    assert.equal(notifier.outstanding(), 1);
    signedReplies = true;
    await waitUntil('the signed acknowledgement to be accepted', () => notifier.outstanding() === 0);
  } finally {
    notifier.close();
    peer.socket.close();
  }
});
