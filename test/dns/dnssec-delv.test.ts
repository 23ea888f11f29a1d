// A signed zone as BIND's validator sees it: delv, trusting only the zone's own DNSKEY, must call
// every answer keypost gives "fully validated": OPENPGPKEY, the per-address and zone _keypost TXT,
// PKA CERT, DNSKEY, a missing name (compact denial, RFC 9824), NODATA and an empty non-terminal,
// for both signing algorithms.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { openpgpkeyLabel, wkdHash } from '../../src/protocol/address-hashes.js';
import { addZone, makeKey, publish, type TestKey } from './support/fixtures.js';
import { dig, flags, section, startDns, status, type DnsServer } from './support/server.js';
import { delv, signZone, writeAnchors } from './support/dnssec.js';

const skip = requireTool('delv', 'dig');

/** delv's verdict: the comment line that says how the answer validated. */
function verdict(output: string): string {
  return output.split('\n').find((l) => /validated|validation|resolution failed/.test(l))?.trim() ?? output;
}

/** The label one step before `label` in canonical order (its last character lowered by one). */
function justBefore(label: string): string {
  const last = label.charCodeAt(label.length - 1);
  return label.slice(0, -1) + String.fromCharCode(last === 0x61 ? 0x39 : last - 1);
}

for (const algorithm of [13, 15] as const) {
  describe(`delv validates a zone signed with algorithm ${algorithm}`, () => {
    const zone = `alg${algorithm}.test`;
    let db: TestDatabase;
    let server: DnsServer;
    let anchors: string;
    let alice: TestKey;
    let big: TestKey;
    const h = (local: string) => openpgpkeyLabel(local);

    before(async () => {
      if (skip) return;
      db = await openTestDatabase();
      await addZone(db.db, zone, { powBits: 22, dns: { nameservers: [{ name: `ns1.${zone}`, ipv4: ['192.0.2.53'] }] } });
      await signZone(db, zone, algorithm);
      [alice, big] = await Promise.all([makeKey(`alice@${zone}`), makeKey(`big@${zone}`, 'rsa4096')]);
      await publish(db.db, `alice@${zone}`, alice);
      await publish(db.db, `big@${zone}`, big);
      server = await startDns(db);
      anchors = (await writeAnchors(server, zone, db.env.KEYPOST_DATA_DIR)).file;
    });
    after(async () => {
      await server?.close();
      await db?.close();
    });

    const validated = async (name: string, type: string) => verdict(await delv(server, anchors, zone, name, type));

    test('OPENPGPKEY, _keypost TXT, the zone policy, CERT, DNSKEY, SOA and NS are fully validated', { skip }, async () => {
      for (const [name, type] of [
        [`${h('alice')}._openpgpkey.${zone}`, 'OPENPGPKEY'],
        [`${h('alice')}._keypost.${zone}`, 'TXT'],
        [`_keypost.${zone}`, 'TXT'],
        [`${wkdHash('alice')}._pka.${zone}`, 'CERT'],
        [zone, 'DNSKEY'],
        [zone, 'SOA'],
        [zone, 'NS'],
        [`ns1.${zone}`, 'A'],
      ]) {
        assert.equal(await validated(name, type), '; fully validated', `${type} ${name}`);
      }
    });

    test('a missing name, NODATA and an empty non-terminal are negative responses, fully validated', { skip }, async () => {
      for (const [name, type] of [
        [`nobody.${zone}`, 'A'],
        [`${h('nobody')}._openpgpkey.${zone}`, 'OPENPGPKEY'],
        [`${h('alice')}._openpgpkey.${zone}`, 'TXT'],
        [`_openpgpkey.${zone}`, 'OPENPGPKEY'],
        [zone, 'A'],
      ]) {
        assert.equal(await validated(name, type), '; negative response, fully validated', `${type} ${name}`);
      }
    });

    test('regression: a missing name right next to a published one is denied, and the published one still validates', { skip }, async () => {
      const real = `${h('alice')}._openpgpkey.${zone}`;
      for (const missing of [`${justBefore(h('alice'))}._openpgpkey.${zone}`, `\\000.${real}`, `${h('alice')}0._openpgpkey.${zone}`]) {
        assert.equal(await validated(missing, 'OPENPGPKEY'), '; negative response, fully validated', missing);
        assert.equal(await validated(real, 'OPENPGPKEY'), '; fully validated', real);
      }
    });

    test('a signed answer too large for UDP sets TC, and is complete over TCP', { skip }, async () => {
      const name = `${h('big')}._openpgpkey.${zone}`;
      const udp = await dig(server, '+dnssec', '+ignore', '+bufsize=1232', name, 'OPENPGPKEY');
      assert.ok(flags(udp).includes('tc'), udp);
      assert.equal(section(udp, 'ANSWER').length, 0);
      const tcp = await dig(server, '+dnssec', '+tcp', name, 'OPENPGPKEY');
      assert.deepEqual(section(tcp, 'ANSWER').map((l) => l.split(' ')[3]), ['OPENPGPKEY', 'RRSIG']);
      assert.equal(await validated(name, 'OPENPGPKEY'), '; fully validated');
    });

    test('a query for NXNAME is a format error with extended DNS error 30', { skip }, async () => {
      const out = await dig(server, '+dnssec', `nobody.${zone}`, 'TYPE128');
      assert.equal(status(out), 'FORMERR');
      assert.match(out, /EDE: 30/);
    });
  });
}
