// Stamps from both search engines pass the reference tool, hashcash 1.22 (`hashcash -c`), with the
// counter starting at every octet position of the last SHA-1 block (resource lengths chosen so the
// stamp head takes every length mod 64), with fresh randomness every time, at 8 to 28 bits.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mintStamp } from '../../../src/pow/mint.js';
import { StampLayout } from '../../../src/pow/kernel/layout.js';
import { parseStamp } from '../../../src/pow/stamp.js';
import { requireTool } from '../../support/tools.js';
import { hashcashCheck } from '../hashcash-tool.js';

const skip = requireTool('hashcash');

/** The head (stamp text before the counter) of a minted stamp. */
function headOf(stamp: string): string {
  return stamp.slice(0, stamp.lastIndexOf(':') + 1);
}

describe('kernel stamps pass hashcash -c', { skip }, () => {
  for (const engine of ['wasm', 'js'] as const) {
    it(`${engine}: 8-12 bits, the counter at every position of its block`, async () => {
      const positions = new Set<number>();
      for (let position = 0; position < 64; position++) {
        const bits = 8 + (position % 5);
        // `1:bits:YYMMDD:` + resource + `::` + 16 rand characters + `:`
        const fixed = `1:${bits}:YYMMDD:`.length + 19;
        const resource = `${'a'.repeat((((position - fixed - 6) % 64) + 64) % 64)}@x.org`;
        const { stamp, engine: used } = await mintStamp(resource, bits, { engine });
        assert.equal(used, engine);
        const head = Buffer.byteLength(headOf(stamp));
        positions.add(head % 64);
        // The counter is padded to end at octet 52 of the last block, as the layout says.
        assert.equal(Buffer.byteLength(stamp) % 64, 52, stamp);
        assert.equal(new StampLayout(Buffer.from(headOf(stamp))).length, Buffer.byteLength(stamp));
        const verdict = hashcashCheck(stamp, { resource, bits });
        assert.equal(verdict.verdict, 'ok', `${stamp}\n${verdict.stderr}`);
      }
      assert.equal(positions.size, 64, 'every head length mod 64 was minted');
    });
  }

  for (const [bits, count, engine] of [
    [16, 4, 'wasm'],
    [16, 2, 'js'],
    [20, 3, 'wasm'],
    [24, 1, 'wasm'],
    [28, 1, 'wasm'],
  ] as const) {
    it(`${engine}: ${count} stamp(s) of ${bits} bits on every core`, async () => {
      for (let i = 0; i < count; i++) {
        const resource = `user${'x'.repeat(i * 17)}@example.org`;
        const { stamp, engine: used } = await mintStamp(resource, bits, { engine });
        assert.equal(used, engine);
        assert.equal(parseStamp(stamp).bits, bits);
        const verdict = hashcashCheck(stamp, { resource, bits });
        assert.equal(verdict.verdict, 'ok', `${stamp}\n${verdict.stderr}`);
      }
    });
  }
});
