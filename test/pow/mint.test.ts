// Minting: stamps of the requested size that verify, in hashcash's shape, on worker threads, with
// progress and cancellation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_MINT_BITS, mintStamp } from '../../src/pow/mint.js';
import { StampError, formatStampDate, parseStamp } from '../../src/pow/stamp.js';
import { verifyStamp } from '../../src/pow/verify.js';

const policy = (resource: string, bits: number, now = new Date()) => ({
  resource,
  bits,
  now,
  validitySeconds: 28 * 86_400,
  graceSeconds: 2 * 86_400,
});

describe('mintStamp', () => {
  for (const [bits, workers] of [
    [0, undefined],
    [1, undefined],
    [8, undefined],
    [12, undefined],
    [16, 1],
    [18, 2],
    [20, undefined],
  ] as const) {
    it(`mints a valid ${bits}-bit stamp${workers ? ` on ${workers} worker(s)` : ''}`, async () => {
      const result = await mintStamp('alice@example.org', bits, { workers });
      const stamp = parseStamp(result.stamp);
      assert.equal(stamp.version, 1);
      assert.equal(stamp.bits, bits);
      assert.equal(stamp.date, formatStampDate(new Date()), 'dated today, YYMMDD UTC');
      assert.equal(stamp.resource, 'alice@example.org');
      assert.equal(stamp.ext, '');
      assert.match(stamp.rand, /^[A-Za-z0-9+/]{16}$/);
      assert.match(stamp.counter, /^[A-Za-z0-9+/]+$/);
      const verdict = verifyStamp(result.stamp, policy('alice@example.org', bits));
      assert.ok(verdict.ok, verdict.ok ? '' : verdict.reason);
      assert.equal(verdict.value, bits);
      assert.ok(result.hashes >= 1);
      assert.ok(result.seconds >= 0);
      assert.ok(result.hashesPerSecond >= 0);
    });
  }

  for (const engine of ['wasm', 'js'] as const) {
    for (const bits of [10, 16]) {
      it(`mints a valid ${bits}-bit stamp with the ${engine} engine${bits > 12 ? ' on threads' : ' inline'}`, async () => {
        const result = await mintStamp('alice@example.org', bits, { engine, workers: 2 });
        assert.equal(result.engine, engine);
        const verdict = verifyStamp(result.stamp, policy('alice@example.org', bits));
        assert.ok(verdict.ok, verdict.ok ? '' : verdict.reason);
      });
    }
  }

  it('uses fresh randomness for every stamp', async () => {
    const a = parseStamp((await mintStamp('alice@example.org', 4)).stamp);
    const b = parseStamp((await mintStamp('alice@example.org', 4)).stamp);
    assert.notEqual(a.rand, b.rand);
  });

  it('lowercases the resource like hashcash -m, unless asked to keep its case', async () => {
    assert.equal(parseStamp((await mintStamp('Alice@Example.ORG', 4)).stamp).resource, 'alice@example.org');
    assert.equal(parseStamp((await mintStamp('Alice@Example.ORG', 4, { caseSensitive: true })).stamp).resource, 'Alice@Example.ORG');
  });

  it('dates the stamp at the given time and width', async () => {
    const now = new Date('2026-02-03T04:05:06Z');
    assert.equal(parseStamp((await mintStamp('x', 4, { now })).stamp).date, '260203');
    assert.equal(parseStamp((await mintStamp('x', 4, { now, dateWidth: 10 })).stamp).date, '2602030405');
    assert.equal(parseStamp((await mintStamp('x', 14, { now, dateWidth: 12 })).stamp).date, '260203040506');
  });

  it('carries an extension field', async () => {
    const result = await mintStamp('x@example.org', 14, { ext: 'a=b;c' });
    assert.equal(parseStamp(result.stamp).ext, 'a=b;c');
    assert.ok(verifyStamp(result.stamp, policy('x@example.org', 14)).ok);
  });

  it('reports growing hash counts, and stops when aborted', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const minting = mintStamp('alice@example.org', MAX_MINT_BITS, {
      signal: controller.signal,
      onProgress: (hashes) => {
        seen.push(hashes);
        if (seen.length === 6) controller.abort();
      },
    });
    await assert.rejects(minting, (err: unknown) => err instanceof StampError && err.code === 'POW_MINT_ABORTED');
    assert.equal(seen.length, 6);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], 'counts grow');
  });

  it('stops and rejects when the progress callback throws', async () => {
    await assert.rejects(
      mintStamp('x', MAX_MINT_BITS, {
        onProgress: () => {
          throw new Error('progress display failed');
        },
      }),
      /progress display failed/,
    );
  });

    it('refuses a signal that is already aborted', async () => {
    await assert.rejects(
      mintStamp('x', 30, { signal: AbortSignal.abort() }),
      (err: unknown) => err instanceof StampError && err.code === 'POW_MINT_ABORTED',
    );
  });

  it('refuses what it cannot mint', async () => {
    for (const [resource, bits, options] of [
      ['x', 41, {}],
      ['x', -1, {}],
      ['x', 2.5, {}],
      ['a:b', 8, {}],
      ['a\nb', 8, {}],
      ['a'.repeat(257), 8, {}],
      ['x', 8, { ext: 'a:b' }],
      ['x', 8, { workers: 0 }],
    ] as const) {
      await assert.rejects(
        mintStamp(resource, bits, options),
        (err: unknown) => err instanceof StampError && err.code === 'POW_MINT_INVALID',
        `${resource.slice(0, 10)} ${bits} ${JSON.stringify(options)}`,
      );
    }
  });
});
