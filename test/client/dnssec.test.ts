// keypost lookup and send report whether what they found was DNSSEC-validated, with real parts: a
// zone signed by ldns-signzone and served by NSD, and Unbound in front of it as the validating
// resolver a sender trusts. Through Unbound every answer carries AD and the status is "secure";
// asked straight (NSD is authoritative and never sets AD) the same answers are "insecure", and
// --require-dnssec turns that into a failure with its own exit code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { buildQuery } from '../../src/client/dns-message.js';
import { lookupAddress } from '../../src/client/lookup.js';
import { dnsNamesFor } from '../../src/protocol/address-hashes.js';
import { FLAG, HEADER_LENGTH, TYPE } from '../../src/protocol/dns-wire.js';
import { formatKp1 } from '../../src/protocol/kp1.js';
import type { DnsDaemon } from '../support/dns-daemon.js';
import { runKeypost } from '../support/keypost-process.js';
import { startMailSink, type MailSink } from '../support/mail-sink.js';
import { SIGNED_ZONE_TOOLS, serveSignedZone, type SignedZone } from '../support/signed-zone.js';
import { requireTool } from '../support/tools.js';
import { startValidatingResolver } from '../support/unbound.js';
import { makeKey, type TestKey } from './support.js';

const skip = requireTool(...SIGNED_ZONE_TOOLS, 'unbound');
const ZONE = 'dnssec-senders.example';
const ALICE = `alice@${ZONE}`;
const PRICE = 6;
// The documented exit status of --require-dnssec refusing insecure answers.
const EXIT_DNSSEC_INSECURE = 5;

let zone: SignedZone;
let unbound: DnsDaemon;
let sink: MailSink;
let alice: TestKey;

/** Every question a lookup of `local` asks, as the result names them. */
function questionsFor(local: string): string[] {
  const names = dnsNamesFor(local, ZONE);
  return [`_keypost.${ZONE} TXT`, `${names.keypost} TXT`, `${names.openpgpkey} OPENPGPKEY`, `${names.pka} CERT`];
}

before(async () => {
  if (skip) return;
  sink = await startMailSink();
  alice = await makeKey(ALICE);
  const keyBytes = (await openpgp.readKey({ armoredKey: alice.publicKey })).write();
  const names = dnsNamesFor('alice', ZONE);
  // What keypost publishes for an address (README "What DNS publishes"), written with the same kp1
  // codec; no PKA record, so the CERT question gets an NXDOMAIN whose denial must validate too.
  zone = await serveSignedZone(ZONE, [
    `_keypost IN TXT "${formatKp1({ ep: sink.url, pow: PRICE })}"`,
    `${names.keypost}. IN TXT "${formatKp1({ fpr: alice.fingerprint })}"`,
    `${names.openpgpkey}. IN OPENPGPKEY ${Buffer.from(keyBytes).toString('base64')}`,
  ]);
  unbound = await startValidatingResolver({ trustAnchors: [zone.key.ds], stubZones: [{ name: ZONE, server: zone.nsd.server }] });
}, { timeout: 60_000 });

after(async () => {
  await unbound?.close();
  await zone?.close();
  await sink?.close();
});

describe('lookup', { skip, timeout: 120_000 }, () => {
  test('the query asks the resolver to report validation: AD in the header, DO in OPT, CD clear', () => {
    const query = buildQuery(0x4242, `_keypost.${ZONE}`, TYPE.TXT);
    const flags = query.readUInt16BE(2);
    assert.equal(flags & FLAG.AD, FLAG.AD);
    assert.equal(flags & FLAG.CD, 0);
    // The OPT record closes the query: root owner, TYPE, CLASS (payload), TTL (ext. RCODE, version, flags), RDLENGTH.
    const opt = query.subarray(query.length - 11);
    assert.ok(query.length > HEADER_LENGTH + 11);
    assert.equal(opt.readUInt16BE(1), TYPE.OPT);
    assert.equal(opt.readUInt16BE(7) & 0x8000, 0x8000, 'DO set');
  });

  test('through Unbound every answer is authenticated: secure, and --require-dnssec passes', async () => {
    const json = await runKeypost(['lookup', ALICE, '--dns', unbound.address, '--require-dnssec', '--json']);
    assert.equal(json.code, 0, json.stderr + unbound.log());
    const result = JSON.parse(json.stdout);
    assert.equal(result.dnssec, 'secure');
    assert.deepEqual(result.unauthenticatedAnswers, []);
    assert.equal(result.verified, true, JSON.stringify(result.checks));
    assert.equal(result.fingerprint, alice.fingerprint);
    assert.equal(result.endpoint, sink.url);
    assert.equal(result.price, PRICE);

    const text = await runKeypost(['lookup', ALICE, '--dns', unbound.address]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^dnssec +secure$/m);
  });

  test('straight from NSD nothing is authenticated: insecure, and --require-dnssec exits 5', async () => {
    const direct = await lookupAddress(ALICE, { dns: zone.nsd.server });
    assert.equal(direct.dnssec, 'insecure');
    assert.deepEqual(direct.unauthenticatedAnswers, questionsFor('alice'));
    // The same records, so every other check still passes: DNSSEC is reported on its own.
    assert.equal(direct.verified, true, JSON.stringify(direct.checks));
    assert.equal(direct.fingerprint, alice.fingerprint);

    const reported = await runKeypost(['lookup', ALICE, '--dns', zone.nsd.address]);
    assert.equal(reported.code, 0, reported.stderr);
    assert.match(reported.stdout, new RegExp(`^dnssec +insecure \\(no AD on _keypost\\.${ZONE.replace(/\./g, '\\.')} TXT, `, 'm'));

    const refused = await runKeypost(['lookup', ALICE, '--dns', zone.nsd.address, '--require-dnssec', '--json']);
    assert.equal(refused.code, EXIT_DNSSEC_INSECURE, refused.stderr);
    assert.equal(JSON.parse(refused.stdout).dnssec, 'insecure');
    assert.match(refused.stderr, new RegExp(`the DNS answers for ${ALICE} are not DNSSEC-authenticated by the resolver: no AD on .*\\(CLIENT_DNSSEC_INSECURE\\)`));
  });

  test('an unpublished address: a validated denial is secure (exit 3), an unvalidated one is refused (exit 5)', async () => {
    const nobody = `nobody@${ZONE}`;
    const validated = await runKeypost(['lookup', nobody, '--dns', unbound.address, '--require-dnssec', '--json']);
    assert.equal(validated.code, 3, validated.stderr);
    const result = JSON.parse(validated.stdout);
    assert.equal(result.published, false);
    assert.equal(result.keypostDomain, true);
    assert.equal(result.dnssec, 'secure');
    assert.match(validated.stderr, /CLIENT_NOT_PUBLISHED/);

    const stripped = await runKeypost(['lookup', nobody, '--dns', zone.nsd.address, '--require-dnssec']);
    assert.equal(stripped.code, EXIT_DNSSEC_INSECURE, stripped.stderr);
    assert.match(stripped.stderr, /CLIENT_DNSSEC_INSECURE/);
  });

  test('a zone that publishes no transparency log: "transparency none", its validated denial counted as secure; --require-transparency fails it', async () => {
    const text = await runKeypost(['lookup', ALICE, '--dns', unbound.address]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^transparency +none$/m);
    assert.match(text.stdout, new RegExp(`^ {2}skip {2}transparency +${ZONE.replace(/\./g, '\\.')} publishes no key transparency log`, 'm'));
    const json = await runKeypost(['lookup', ALICE, '--dns', unbound.address, '--require-dnssec', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout);
    assert.equal(body.transparency.status, 'none');
    assert.equal(body.dnssec, 'secure', 'the _keypost-log denial was authenticated too');
    // Straight from NSD the log's (absent) head is one of the unauthenticated answers.
    const direct = JSON.parse((await runKeypost(['lookup', ALICE, '--dns', zone.nsd.address, '--json'])).stdout);
    assert.ok(direct.unauthenticatedAnswers.includes(`_keypost-log.${ZONE} TXT`), JSON.stringify(direct.unauthenticatedAnswers));

    const required = await runKeypost(['lookup', ALICE, '--dns', unbound.address, '--require-transparency', '--json']);
    assert.equal(required.code, 1, required.stderr);
    assert.equal(JSON.parse(required.stdout).checks.find((c: any) => c.name === 'transparency').status, 'fail');
    assert.match(required.stderr, /is not verified: transparency \(CLIENT_TRANSPARENCY_FAILED\)/);
  });
});

describe('send', { skip, timeout: 120_000 }, () => {
  const message = 'Subject: signed zone\n\nhello over DNSSEC\n';
  const send = (dns: string, ...flags: string[]) => runKeypost(['send', '--from', 'bob@sender.example', '--to', ALICE, '--dns', dns, ...flags], {}, message);

  test('--require-dnssec delivers to a recipient Unbound authenticated', async () => {
    const sent = await send(unbound.address, '--require-dnssec', '--json');
    assert.equal(sent.code, 0, sent.stderr);
    const [outcome] = JSON.parse(sent.stdout).recipients;
    assert.equal(outcome.delivered, true, outcome.detail);
    assert.equal(outcome.dnssec, 'secure');
    assert.equal(outcome.price, PRICE);
    const mail = await sink.waitFor((m) => m.to.includes(ALICE) && m.raw.includes('hello over DNSSEC'));
    assert.match(mail.raw, new RegExp(`^X-Hashcash: 1:${PRICE}:\\d+:${ALICE}:`, 'm'));
  });

  test('--require-dnssec refuses the same recipient looked up straight from NSD, before minting (exit 5)', async () => {
    const refused = await send(zone.nsd.address, '--require-dnssec', '--json');
    assert.equal(refused.code, EXIT_DNSSEC_INSECURE, refused.stderr);
    const [outcome] = JSON.parse(refused.stdout).recipients;
    assert.equal(outcome.delivered, false);
    assert.equal(outcome.stage, 'lookup');
    assert.equal(outcome.code, 'CLIENT_DNSSEC_INSECURE');
    assert.equal(outcome.dnssec, 'insecure');
    assert.equal(outcome.stamp, null);
    assert.match(outcome.detail, new RegExp(`^the DNS answers for ${ALICE} are not DNSSEC-authenticated by the resolver: no AD on `));
  });

  test('--require-transparency refuses a recipient whose zone publishes no log, before minting', async () => {
    const refused = await send(unbound.address, '--require-transparency', '--json');
    assert.equal(refused.code, 1, refused.stderr);
    const [outcome] = JSON.parse(refused.stdout).recipients;
    assert.equal(outcome.delivered, false);
    assert.equal(outcome.stage, 'verify');
    assert.equal(outcome.code, 'CLIENT_TRANSPARENCY_FAILED');
    assert.equal(outcome.stamp, null);
  });

  test('without --require-dnssec an insecure recipient is delivered and reported as such', async () => {
    const sent = await send(zone.nsd.address);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, new RegExp(`^delivered +${ALICE} +${sink.url} +\\(${PRICE} bits, not encrypted, DNSSEC insecure\\)`, 'm'));
  });
});
