// The leaf codec: one encoding per change, byte for byte as README.md documents it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { LeafFormatError, decodeLeaf, encodeLeaf, labelOctets, servedKeyHash, type LogLeaf } from '../../src/transparency/leaf.js';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';

const leaf: LogLeaf = {
  action: 'publish',
  sequence: 3,
  time: 1_764_000_000_123,
  zone: 'example.org',
  label: labelOctets(openpgpkeyLabel('alice')),
  fingerprint: 'AB'.repeat(20),
  keyHash: servedKeyHash(Buffer.from('minimal key')),
  endpoint: 'smtp://mx.example.org:25',
  powBits: 22,
};

describe('log leaf v1', () => {
  test('the encoding is the documented layout, field by field', () => {
    const bytes = encodeLeaf(leaf);
    const expected = Buffer.concat([
      Buffer.from('0101', 'hex'),
      Buffer.from('0000000000000003', 'hex'),
      Buffer.from((1_764_000_000_123).toString(16).padStart(16, '0'), 'hex'),
      Buffer.of(11),
      Buffer.from('example.org'),
      createHash('sha256').update('alice').digest().subarray(0, 28),
      Buffer.of(20),
      Buffer.alloc(20, 0xab),
      createHash('sha256').update('minimal key').digest(),
      Buffer.of(0, 24),
      Buffer.from('smtp://mx.example.org:25'),
      Buffer.of(1, 22),
    ]);
    assert.equal(bytes.toString('hex'), expected.toString('hex'));
    assert.deepEqual(decodeLeaf(bytes), leaf);
  });

  test('withdrawals and inherited settings round-trip', () => {
    const w: LogLeaf = { ...leaf, action: 'withdraw', endpoint: null, powBits: null, fingerprint: 'CD'.repeat(32) };
    const bytes = encodeLeaf(w);
    assert.equal(bytes[1], 2);
    assert.deepEqual(bytes.subarray(-4), Buffer.of(0, 0, 0, 0));
    assert.deepEqual(decodeLeaf(bytes), w);
  });

  test('anything but exactly one canonical leaf is refused', () => {
    const bytes = encodeLeaf(leaf);
    const cases: [string, Buffer][] = [
      ['trailing octet', Buffer.concat([bytes, Buffer.of(0)])],
      ['truncated', bytes.subarray(0, bytes.length - 1)],
      ['unknown version', Buffer.concat([Buffer.of(2), bytes.subarray(1)])],
      ['unknown action', Buffer.concat([Buffer.of(1, 9), bytes.subarray(2)])],
      ['absent pow with bits', Buffer.concat([bytes.subarray(0, -2), Buffer.of(0, 5)])],
      ['uppercase zone', Buffer.from(bytes.toString('latin1').replace('example.org', 'EXAMPLE.org'), 'latin1')],
    ];
    for (const [what, b] of cases) assert.throws(() => decodeLeaf(b), LeafFormatError, what);
    assert.throws(() => encodeLeaf({ ...leaf, fingerprint: 'ab'.repeat(20) }), LeafFormatError);
    assert.throws(() => encodeLeaf({ ...leaf, powBits: 256 }), LeafFormatError);
  });
});
