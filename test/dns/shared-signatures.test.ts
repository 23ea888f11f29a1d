// The shared signature store (dnssec/shared-signatures.ts): what the writer puts, a reader on the
// other end of a MessageChannel finds, through the table growing and new log chunks; signing
// again replaces an entry, kept in answer form too; a reader still on older data finds less, never something wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { SharedSignatures, type SharedSignatureData } from '../../src/dns/dnssec/shared-signatures.js';

test('a reader finds what the writer stored, across growth and log chunks', () => {
  const { port1, port2 } = new MessageChannel();
  const send = (data: SharedSignatureData): SharedSignatureData => {
    port1.postMessage(data);
    return receiveMessageOnPort(port2)!.message as SharedSignatureData;
  };
  const writer = SharedSignatures.create(16);
  let moved = 0;
  writer.onMoved = () => moved++;
  const early = new SharedSignatures(send(writer.shared));
  const entries: { chunk: number; offset: number; type: number; rdatas: Buffer[] }[] = [];
  // About 20,000 signatures of 100 octets: several 1 MB log chunks and table growths.
  for (let i = 0; i < 20_000; i++) {
    const entry = { chunk: 1 + (i % 7), offset: i * 16, type: i % 3 === 0 ? 16 : 61, rdatas: [randomBytes(100), randomBytes(i % 2 ? 0 : 92)] };
    entries.push(entry);
    writer.put(entry.chunk, entry.offset, entry.type, { ttl: 3600, refreshAt: 1_000_000 + i, rdatas: entry.rdatas });
  }
  assert.ok(moved >= 3, `${moved} moves`);
  const reader = new SharedSignatures(send(writer.shared));
  for (const [i, e] of entries.entries()) {
    const found = reader.get(e.chunk, e.offset, e.type);
    assert.ok(found, `entry ${i}`);
    assert.equal(found.refreshAt, 1_000_000 + i);
    assert.deepEqual(found.rdatas.map((r) => r.toString('hex')), e.rdatas.map((r) => r.toString('hex')));
  }
  assert.equal(reader.get(1, 8, 61), undefined, 'nothing at a place never signed');
  // Signed again: the reader sees the new record.
  const again = [randomBytes(64)];
  writer.put(entries[5].chunk, entries[5].offset, entries[5].type, { ttl: 300, refreshAt: 42, rdatas: again });
  reader.use(send(writer.shared));
  const got = reader.get(entries[5].chunk, entries[5].offset, entries[5].type)!;
  assert.deepEqual({ ttl: got.ttl, refreshAt: got.refreshAt, rdatas: got.rdatas }, { ttl: 300, refreshAt: 42, rdatas: again });
  // Also as the answer appends them: owner a pointer to the question name, RRSIG, IN, the original
  // TTL, RDLENGTH, RDATA (rrsig-records.ts).
  assert.equal(got.records.toString('hex'), `c00c002e0001${(300).toString(16).padStart(8, '0')}0040${again[0].toString('hex')}`);
  // The reader that never switched finds only what its data covers, and each thing it finds is right.
  for (const e of entries.slice(0, 100)) {
    const found = early.get(e.chunk, e.offset, e.type);
    if (found) assert.deepEqual(found.rdatas.map((r) => r.toString('hex')), e.rdatas.map((r) => r.toString('hex')));
  }
  port1.close();
});
