// The proof route's index from an address label to its latest leaf (label-index.ts): it must
// answer exactly like a Map, through growth and replacement, and refuse what is not a label.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { LabelIndex } from '../../src/transparency/label-index.js';

const label = (n: number) => createHash('sha256').update(`user${n}`).digest('hex').slice(0, 56);

test('every label finds its latest leaf through many growths, and unknown labels find none', () => {
  const index = new LabelIndex();
  const expected = new Map<string, number>();
  for (let n = 0; n < 20_000; n++) {
    index.set(label(n), n);
    expected.set(label(n), n);
  }
  // A later leaf of a label replaces the earlier one without adding a label.
  for (let n = 0; n < 20_000; n += 7) {
    index.set(label(n), 100_000 + n);
    expected.set(label(n), 100_000 + n);
  }
  assert.equal(index.size, 20_000);
  for (const [key, leaf] of expected) assert.equal(index.get(key), leaf, key);
  for (let n = 20_000; n < 21_000; n++) assert.equal(index.get(label(n)), undefined);
});

test('labels that share their leading characters are told apart by the rest', () => {
  const index = new LabelIndex();
  const a = 'ab'.repeat(28);
  const b = `${'ab'.repeat(27)}ac`;
  index.set(a, 1);
  index.set(b, 2);
  assert.equal(index.get(a), 1);
  assert.equal(index.get(b), 2);
  assert.equal(index.get(`${'ab'.repeat(27)}ad`), undefined);
});

test('what is not a 28-octet label in lowercase hex is refused on the way in and found nowhere', () => {
  const index = new LabelIndex();
  assert.throws(() => index.set('abc', 1), /not an RFC 7929 label/);
  assert.throws(() => index.set('AB'.repeat(28), 1), /not an RFC 7929 label/);
  assert.throws(() => index.set('ab'.repeat(28), -1), /does not fit/);
  assert.equal(index.get('ab'), undefined);
  assert.equal(index.get(''), undefined);
});
