// Ids for the SharedArrayBuffer chunks that hold encoded nodes (zone-snapshot.ts Arena), the same
// on every thread: the loading thread gives them, and a worker thread records the id of each chunk
// it receives (zone-mirror.ts), so that a node's place (chunk id, offset) names it on any thread,
// as the shared signatures (dnssec/shared-signatures.ts) and the name index need.
const chunkIdOf = new WeakMap<SharedArrayBuffer, number>();
let nextChunkId = 1;

/** The id of a chunk on the loading thread, given on first use. */
export function chunkIdFor(chunk: SharedArrayBuffer): number {
  let id = chunkIdOf.get(chunk);
  if (id === undefined) chunkIdOf.set(chunk, (id = nextChunkId++));
  return id;
}

/** The id of a chunk on a worker thread: known once an index holding it arrived. */
export function knownChunkId(chunk: SharedArrayBuffer): number | undefined {
  return chunkIdOf.get(chunk);
}

/** A worker thread records the id the loading thread gave a chunk it received. */
export function adoptChunkId(chunk: SharedArrayBuffer, id: number): void {
  chunkIdOf.set(chunk, id);
}
