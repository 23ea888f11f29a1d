// RDATA encoders and their presentation form, with the published check values (RFC 7929 section 3
// for the OPENPGPKEY owner label, the Web Key Directory draft section 3.1 for the WKD hash).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as rd from '../../src/dns/rdata.js';
import { openpgpkeyLabel, wkdHash } from '../../src/protocol/address-hashes.js';
import { encodeName, keyToName, nameKey, readName } from '../../src/protocol/dns-wire.js';

test('owner labels match the check values of RFC 7929 and the WKD draft', () => {
  assert.equal(openpgpkeyLabel('hugh'), 'c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6');
  assert.equal(openpgpkeyLabel('HUGH'), openpgpkeyLabel('hugh'), 'ASCII is lowercased before hashing');
  assert.equal(wkdHash('Joe.Doe'), 'iy9q119eutrkn8s1mk4r39qejnbu3n5q');
});

test('encoders produce the RFC wire forms', async (t) => {
  const cases: { name: string; rdata: rd.Rdata; type: number; hex: string; text: string }[] = [
    { name: 'A', rdata: rd.a('192.0.2.1'), type: 1, hex: 'c0000201', text: '192.0.2.1' },
    { name: 'AAAA compressed', rdata: rd.aaaa('2001:db8::1'), type: 28, hex: '20010db8000000000000000000000001', text: '2001:db8::1' },
    { name: 'AAAA loopback', rdata: rd.aaaa('::1'), type: 28, hex: '00000000000000000000000000000001', text: '::1' },
    { name: 'AAAA v4-mapped', rdata: rd.aaaa('::ffff:192.0.2.1'), type: 28, hex: '00000000000000000000ffffc0000201', text: '::ffff:c000:201' },
    { name: 'NS', rdata: rd.ns('ns1.example.org'), type: 2, hex: '036e7331076578616d706c65036f726700', text: 'ns1.example.org.' },
    { name: 'TXT short', rdata: rd.txt('v=kp1; pow=20'), type: 16, hex: '0d763d6b70313b20706f773d3230', text: '"v=kp1; pow=20"' },
    { name: 'TXT with a quote', rdata: rd.txt('a"b'), type: 16, hex: '0361226' + '2', text: '"a\\"b"' },
    { name: 'CERT IPGP', rdata: rd.certIpgp('00'.repeat(19) + 'ff'), type: 37, hex: '000600000014' + '00'.repeat(19) + 'ff', text: 'IPGP 0 0 ' + Buffer.from('14' + '00'.repeat(19) + 'ff', 'hex').toString('base64') },
    {
      name: 'CERT IPGP with a URL after the fingerprint',
      rdata: rd.certIpgp('ab'.repeat(20), 'http://k.test/x'),
      type: 37,
      hex: '000600000014' + 'ab'.repeat(20) + Buffer.from('http://k.test/x').toString('hex'),
      text: 'IPGP 0 0 ' + Buffer.concat([Buffer.from('14' + 'ab'.repeat(20), 'hex'), Buffer.from('http://k.test/x')]).toString('base64'),
    },
    { name: 'OPENPGPKEY', rdata: rd.openpgpkey(Buffer.from([0x99, 1, 2])), type: 61, hex: '990102', text: 'mQEC' },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      assert.equal(c.rdata.type, c.type);
      assert.equal(c.rdata.wire.toString('hex'), c.hex);
      assert.equal(rd.presentRdata(c.type, c.rdata.wire), c.text);
    });
  }
});

test('TXT longer than 255 octets is split into character-strings', () => {
  const text = 'x'.repeat(300);
  const wire = rd.txt(text).wire;
  assert.equal(wire[0], 255);
  assert.equal(wire[256], 45);
  assert.equal(wire.length, 302);
});

test('SOA: mailbox with a dot in the local part, timers in order', () => {
  const wire = rd.soa({ mname: 'ns1.example.org', rname: rd.mailboxToName('dns.admin@example.org'), serial: 4294967295, refresh: 1, retry: 2, expire: 3, minimum: 4 }).wire;
  assert.equal(rd.presentRdata(6, wire), 'ns1.example.org. dns\\.admin.example.org. 4294967295 1 2 3 4');
});

test('names: keys are lowercase, presentation escapes, readName rejects loops and forward pointers', () => {
  assert.equal(nameKey('Example.ORG'), nameKey('example.org.'));
  assert.equal(keyToName(nameKey('a.b')), 'a.b.');
  assert.equal(keyToName(encodeName('dns\\.admin.org').toString('latin1')), 'dns\\.admin.org.');
  const loop = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 12]);
  assert.equal(readName(loop, 12), null);
  const forward = Buffer.from([0xc0, 2, 1, 97, 0]);
  assert.equal(readName(forward, 0), null);
  const back = Buffer.from([1, 97, 0, 1, 98, 0xc0, 0]);
  assert.equal(readName(back, 3)!.wire.toString('latin1'), '\x01b\x01a\x00');
  assert.throws(() => encodeName(`${'a'.repeat(64)}.org`), RangeError);
});
