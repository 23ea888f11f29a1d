// The read model shares repeated strings (zone and algorithm names) across rows; the table that
// shares them is bounded, so a process serving many zones over its life does not keep every name
// it ever read (issue 15 item 5, bound every cache).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Interner } from '../../src/published/entries.js';

test('the string interner never holds more than its limit, and still answers every string', () => {
  const interner = new Interner(1000);
  for (let i = 0; i < 25_000; i++) {
    assert.equal(interner.intern(`zone${i}.test`), `zone${i}.test`);
    assert.ok(interner.size <= 1000, `size ${interner.size} after ${i + 1} names`);
  }
  // A name seen again right away is shared, not added twice.
  const before = interner.size;
  interner.intern('zone24999.test');
  assert.equal(interner.size, before);
});
