// A map of per-client accounts that holds at most `limit` entries and forgets the oldest first.
// Evicting with `map.delete(map.keys().next().value)` looks O(1) but is not in V8: a deleted Map
// entry stays a hole until the table is rebuilt, and every new iterator walks past all the holes
// at the front, so once the map is full each insertion cost tens of microseconds (about 60 µs at
// 100,000 entries), which under a stream of new keys is more than answering the query. The keys
// are kept in insertion order in a ring instead, so the oldest is found in O(1).
export class BoundedAccounts<V> {
  private readonly map = new Map<string, V>();
  private readonly ring: string[] = [];
  /** Index in `ring` of the oldest key once the ring is full. */
  private head = 0;

  constructor(readonly limit: number) {}

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  /** Adds an account for a key not held yet, forgetting the oldest one when full. */
  add(key: string, value: V): void {
    if (this.ring.length < this.limit) this.ring.push(key);
    else {
      this.map.delete(this.ring[this.head]);
      this.ring[this.head] = key;
      this.head = (this.head + 1) % this.limit;
    }
    this.map.set(key, value);
  }

  get size(): number {
    return this.map.size;
  }
}
