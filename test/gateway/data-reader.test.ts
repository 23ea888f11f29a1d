// The DATA reader with block files: a message over one block keeps only its header section in
// memory and the rest in files of exactly 8 MB (the last shorter), and the memory budget it draws
// on is given back in full, whether the message is kept or refused halfway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { BLOCK_BYTES, BlockStore } from '../../src/gateway/block-store.js';
import { BufferBudget, readMessage } from '../../src/gateway/data-reader.js';
import { bodyChunks } from '../support/large-mail.js';

const HEAD = Buffer.from('Subject: blocks\r\nX-Test: 1\r\n\r\n', 'latin1');

/** Writes `parts` to a stream in 64 KiB pieces, as a socket would, honouring back-pressure. */
async function feed(stream: PassThrough, parts: Buffer[]): Promise<void> {
  for (const part of parts) {
    for (let at = 0; at < part.length; at += 64 * 1024) {
      if (!stream.write(part.subarray(at, at + 64 * 1024))) await new Promise((r) => stream.once('drain', r));
    }
  }
  stream.end();
}

test('a 20 MB message: header section in memory, body in 8 MB block files, budget given back', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-blocks-'));
  try {
    const store = await BlockStore.open(dir);
    const budget = new BufferBudget(64 * 1024 * 1024);
    const body = Buffer.concat([...bodyChunks(20 * 1024 * 1024)]);
    const stream = new PassThrough();
    const reading = readMessage(stream, { maxBytes: 1024 ** 3, maxLineLength: 1000, budget, spill: () => store.writer('00000000000000AA') });
    await feed(stream, [HEAD, body]);
    const read = await reading;
    assert.ok(read.ok && 'blocks' in read, 'spilled to blocks');
    assert.deepEqual(read.message, HEAD);
    assert.equal(read.bytes, HEAD.length + body.length);
    const refs = await read.blocks.finish();
    assert.deepEqual(refs.map((b) => b.bytes), [BLOCK_BYTES, BLOCK_BYTES, body.length - 2 * BLOCK_BYTES]);
    const stored = Buffer.concat(refs.map((b) => readFileSync(path.join(dir, 'queue-blocks', `00000000000000AA.${b.seq}`))));
    assert.ok(stored.equals(body), 'the blocks hold the body byte for byte');
    for (const ref of refs) assert.equal((await store.read('00000000000000AA', ref)).length, ref.bytes);
    read.release();
    read.blocks.release();
    assert.equal(budget.inUse, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('over SIZE after blocks were written: refused, its files removed, budget given back', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-blocks-'));
  try {
    const store = await BlockStore.open(dir);
    const budget = new BufferBudget(64 * 1024 * 1024);
    // Another session's share: what this one gives back must not eat into it.
    assert.ok(budget.reserve(16 * 1024 * 1024));
    const stream = new PassThrough();
    const reading = readMessage(stream, { maxBytes: 20 * 1024 * 1024, maxLineLength: 1000, budget, spill: () => store.writer('00000000000000BB') });
    await feed(stream, [HEAD, ...bodyChunks(30 * 1024 * 1024)]);
    const read = await reading;
    assert.deepEqual(read.ok ? 'kept' : read.reason, 'too-big');
    const files = () => readdirSync(path.join(dir, 'queue-blocks')).filter((name) => name !== 'ID');
    while (files().length) await new Promise((r) => setTimeout(r, 10));
    assert.equal(budget.inUse, 16 * 1024 * 1024);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sweep removes the files of messages without a row, and never those being written', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-blocks-'));
  try {
    const store = await BlockStore.open(dir);
    const orphan = store.writer('00000000000000C1');
    await orphan.write([Buffer.from('left by a crash')]);
    orphan.release();
    const kept = store.writer('00000000000000C2');
    await kept.write([Buffer.from('queued')]);
    kept.release();
    const live = store.writer('00000000000000C3');
    await live.write([Buffer.from('still arriving')]);
    const removed = await store.sweep(async (ids) => new Set(ids.filter((id) => id === '00000000000000C2')));
    assert.equal(removed, 1);
    assert.deepEqual(readdirSync(path.join(dir, 'queue-blocks')).sort(), ['00000000000000C2.0', '00000000000000C3.0', 'ID']);
    // The directory keeps its id across opens: rows name it.
    assert.equal((await BlockStore.open(dir)).id, store.id);
    await live.discard();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
