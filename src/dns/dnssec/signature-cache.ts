// A bounded cache for signatures made online over names that do not exist (RFC 9824): repeated
// names are signed once, and a flood of distinct names cannot grow memory without bound.
//
// Two generations rather than an exact LRU list: entries go into `young`; when it holds half the
// limit it becomes `old` and the previous `old` is dropped whole. A hit in `old` moves the entry
// back to `young`, so a name asked again within the last half-limit insertions survives. Nothing
// is ever deleted one by one: a Map that is deleted from at the front and read with
// `keys().next()` leaves holes that every new iterator walks past in V8, which made each eviction
// cost 10-20 µs under a stream of new names, a large share of the signature it saved.
export class BoundedCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly generation: number;

  constructor(readonly limit: number) {
    this.generation = Math.max(1, Math.floor(limit / 2));
  }

  get(key: K): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const aging = this.old.get(key);
    if (aging !== undefined) this.set(key, aging);
    return aging;
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.generation && !this.young.has(key)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  /** Entries held, counting one promoted from `old` twice until `old` is dropped (at most `limit`). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
