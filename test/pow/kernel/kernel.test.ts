// The search engines against node:crypto: the JavaScript SHA-1, and both engines' digest words on
// random heads of every length from 0 to 200 octets (so the counter starts at every position of its
// block), plus the hits search() reports against a brute-force scan.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { BlockEngine } from '../../../src/pow/kernel/block-engine.js';
import { JsEngine } from '../../../src/pow/kernel/engine-js.js';
import { WasmEngine } from '../../../src/pow/kernel/engine-wasm.js';
import { kernelModule } from '../../../src/pow/kernel/kernel-file.js';
import { COUNTER_ALPHABET, INNER_SPACE, StampLayout } from '../../../src/pow/kernel/layout.js';
import { selectEngine } from '../../../src/pow/kernel/select-engine.js';
import { sha1Digest } from '../../../src/pow/kernel/sha1-core.js';
import { StampSearch } from '../../../src/pow/kernel/stamp-search.js';

const sha1 = (data: Uint8Array | string) => createHash('sha1').update(data).digest();

function wasmEngine(): WasmEngine {
  const module = kernelModule();
  assert.ok(module, 'this node has WebAssembly SIMD, so the kernel must compile');
  return new WasmEngine(module);
}

/** The stamp's octets for counter `n` (heads here are random octets, not UTF-8 text). */
const stampBytes = (layout: StampLayout, n: number) => Buffer.concat([layout.head, Buffer.from(layout.counterText(n))]);

const engines: [string, () => BlockEngine][] = [
  ['wasm', wasmEngine],
  ['js', () => new JsEngine()],
];

describe('sha1Digest (JavaScript SHA-1)', () => {
  it('equals node:crypto on random inputs of every length from 0 to 200 octets', () => {
    for (let length = 0; length <= 200; length++) {
      const input = randomBytes(length);
      assert.deepEqual(Buffer.from(sha1Digest(input)), sha1(input), `length ${length}`);
    }
  });
});

describe('StampLayout', () => {
  it('ends every stamp at octet 52 of its last block, whatever the head length', () => {
    for (let length = 0; length <= 200; length++) {
      const layout = new StampLayout(new Uint8Array(length).fill(0x61));
      assert.equal(layout.length % 64, 52, `head of ${length}`);
      assert.ok(layout.fill >= 0 && layout.fill < 64);
      const counter = layout.counterText(INNER_SPACE * 5 + 12345);
      assert.equal(counter.length, layout.fill + 8);
      assert.ok([...counter].every((c) => COUNTER_ALPHABET.includes(c)));
      assert.equal(layout.stampText(0).length, layout.length);
    }
  });
});

for (const [name, make] of engines) {
  describe(`${name} engine`, () => {
    it('computes the first digest word node:crypto computes, for heads of every length from 0 to 200', () => {
      const engine = make();
      for (let length = 0; length <= 200; length++) {
        const layout = new StampLayout(randomBytes(length));
        const outer = randomInt(64 ** 4);
        engine.load(layout.midstate, layout.lastBlockWords(outer), 20);
        for (const inner of [0, 64 * randomInt(2 ** 18), INNER_SPACE - 64, 4 * randomInt(2 ** 22)]) {
          const words = engine.firstWords(inner);
          assert.ok(words.length >= 1);
          words.forEach((word, lane) => {
            const n = outer * INNER_SPACE + inner + lane;
            const expected = sha1(stampBytes(layout, n)).readUInt32BE(0);
            assert.equal(word, expected, `head of ${length} octets, counter ${n}`);
          });
        }
      }
    });

    it('reports the first hit of a range, as a brute-force scan finds it, from any start to any end', () => {
      const engine = make();
      for (let round = 0; round < 6; round++) {
        const layout = new StampLayout(randomBytes(randomInt(120)));
        const outer = randomInt(64 ** 4);
        const bits = 7;
        engine.load(layout.midstate, layout.lastBlockWords(outer), bits);
        const from = randomInt(INNER_SPACE - 10_000);
        const count = randomInt(1, 3000);
        let expected = -1;
        for (let n = from; n < from + count && expected < 0; n++) {
          if (sha1(stampBytes(layout, outer * INNER_SPACE + n))[0] >>> (8 - bits) === 0) expected = n;
        }
        assert.equal(engine.search(from, count), expected, `${from} + ${count}`);
      }
    });
  });
}

describe('StampSearch', () => {
  it('finds stamps across the outer boundary, where the engine reloads the block', () => {
    for (const [name, make] of engines) {
      const search = new StampSearch(make(), new TextEncoder().encode('1:10:260101:x@example.org::abc:'), 10);
      const result = search.run(INNER_SPACE - 200, 1 << 16);
      assert.ok(result.counter >= 0, name);
      assert.ok(sha1(search.stampText(result.counter)).readUInt16BE(0) >>> 6 === 0, name);
      assert.equal(result.hashes, result.counter - (INNER_SPACE - 200) + 1);
    }
  });
});

describe('selectEngine', () => {
  it('takes the kernel where it runs, JavaScript where it does not or when asked', () => {
    assert.equal(selectEngine('auto', kernelModule()).name, 'wasm');
    assert.equal(selectEngine('wasm', kernelModule()).name, 'wasm');
    assert.equal(selectEngine('js', kernelModule()).name, 'js');
    assert.equal(selectEngine('auto', undefined).name, 'js');
    assert.throws(() => selectEngine('wasm', undefined), /cannot run the WebAssembly SIMD kernel/);
  });
});
