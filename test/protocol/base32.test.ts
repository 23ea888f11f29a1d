// The one base-32 encoder, in both alphabets keypost writes, against published vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { base32hex, zbase32 } from '../../src/protocol/base32.js';

test('base32hex spells the RFC 4648 §10 vectors, lowercase and unpadded', () => {
  const vectors: [string, string][] = [['', ''], ['f', 'co'], ['fo', 'cpng'], ['foo', 'cpnmu'], ['foob', 'cpnmuog'], ['fooba', 'cpnmuoj1'], ['foobar', 'cpnmuoj1e8']];
  for (const [input, expected] of vectors) assert.equal(base32hex(Buffer.from(input)), expected, input);
});

test('zbase32 of SHA-1("joe.doe") is the WKD draft example label', () => {
  assert.equal(zbase32(createHash('sha1').update('joe.doe').digest()), 'iy9q119eutrkn8s1mk4r39qejnbu3n5q');
});
