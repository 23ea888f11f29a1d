// A warm pool of search threads: stamps after the first pay no thread start-up, an abort or a dead
// thread fails only the stamp in progress, and closing the pool fails what is still minting.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MintPool, type WorkerHandle } from '../../../src/pow/kernel/mint-pool.js';
import { MAX_MINT_BITS, mintStamp, spawnMintThread } from '../../../src/pow/mint.js';
import { StampError } from '../../../src/pow/stamp.js';
import { verifyStamp } from '../../../src/pow/verify.js';

/** A pool of `size` real threads that counts the threads it starts and keeps their handles. */
function countingPool(size: number) {
  const spawn = spawnMintThread('auto');
  const handles: WorkerHandle[] = [];
  const pool = new MintPool(size, (onMessage, onFailure) => {
    const handle = spawn(onMessage, onFailure);
    handles.push(handle);
    return handle;
  });
  return { pool, handles };
}

const valid = (stamp: string, resource: string, bits: number) =>
  verifyStamp(stamp, { resource, bits, now: new Date(), validitySeconds: 86_400, graceSeconds: 86_400 }).ok;

const isAborted = (err: unknown) => err instanceof StampError && err.code === 'POW_MINT_ABORTED';

describe('MintPool on node threads', () => {
  it('mints stamp after stamp on the same threads once warm', async () => {
    const { pool, handles } = countingPool(2);
    try {
      pool.warm();
      assert.equal(handles.length, 2);
      for (let i = 0; i < 4; i++) {
        const { stamp, engine } = await mintStamp(`u${i}@example.org`, 16, { pool });
        assert.ok(valid(stamp, `u${i}@example.org`, 16), stamp);
        assert.equal(engine, 'wasm');
      }
      assert.equal(handles.length, 2, 'no thread was started after warm()');
    } finally {
      pool.close();
    }
  });

  it('mints stamps asked for at the same time one after another, each with every thread', async () => {
    const { pool, handles } = countingPool(2);
    try {
      const stamps = await Promise.all([14, 15, 16].map((bits) => mintStamp('same@example.org', bits, { pool })));
      stamps.forEach((s, i) => assert.ok(valid(s.stamp, 'same@example.org', 14 + i)));
      assert.equal(handles.length, 2);
    } finally {
      pool.close();
    }
  });

  it('stops a stamp on abort and mints the next one on the same threads', async () => {
    const { pool, handles } = countingPool(2);
    try {
      const controller = new AbortController();
      let reports = 0;
      const minting = mintStamp('a@example.org', MAX_MINT_BITS, {
        pool,
        signal: controller.signal,
        onProgress: () => {
          if (++reports === 3) controller.abort();
        },
      });
      await assert.rejects(minting, isAborted);
      const next = await mintStamp('b@example.org', 16, { pool });
      assert.ok(valid(next.stamp, 'b@example.org', 16));
      assert.equal(handles.length, 2);
    } finally {
      pool.close();
    }
  });

  it('fails the stamp in progress when a thread dies, and starts a new thread for the next', async () => {
    const { pool, handles } = countingPool(2);
    try {
      let killed = false;
      const minting = mintStamp('a@example.org', MAX_MINT_BITS, {
        pool,
        onProgress: () => {
          if (!killed) {
            killed = true;
            handles[0].terminate();
          }
        },
      });
      await assert.rejects(minting, /mint worker exited/);
      const next = await mintStamp('b@example.org', 16, { pool });
      assert.ok(valid(next.stamp, 'b@example.org', 16));
      assert.equal(handles.length, 3, 'one new thread replaced the dead one');
    } finally {
      pool.close();
    }
  });

  it('fails a stamp still minting when the pool closes, and refuses new ones', async () => {
    const { pool } = countingPool(1);
    let closed = false;
    const minting = mintStamp('a@example.org', MAX_MINT_BITS, {
      pool,
      onProgress: () => {
        if (!closed) {
          closed = true;
          pool.close();
        }
      },
    });
    await assert.rejects(minting, /pool was closed/);
    await assert.rejects(mintStamp('a@example.org', 16, { pool }), /pool is closed/);
    pool.close();
  });
});
