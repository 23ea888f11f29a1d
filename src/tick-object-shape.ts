// Keeps one of Node's tick objects alive for the life of the thread, so that process.nextTick stays
// fast in a long-running server.
//
// process.nextTick queues each callback as an object literal with two symbol-keyed properties
// (Node's lib/internal/process/task_queues.js). V8 defines computed keys of a literal through an
// inline cache that refers to the object's hidden classes (maps) weakly. When a major collection
// runs while no tick object is alive, those maps die; the next tick object is built on new ones,
// and the cache records one more map. After a few such collections it is megamorphic for good, and
// from then on every nextTick defines its properties in V8's runtime, walking map transitions each
// time. Every HTTP request takes several ticks (stream end, write completion).
//
// keypost reaches that state at start-up: reading a zone log of 100,000 leaves into memory takes
// major collections. Measured with bench:log-proofs' request script on an app built by keypost's
// buildHttpApp, after 20 forced major collections: 37,000 requests/s, against 49,000 when one tick
// object was kept alive through them (and 50,000 with no collections); bench:next-tick shows the
// same per tick. The profile of the slow state shows
// Runtime_DefineKeyedOwnPropertyInLiteral and map migrations under nextTick, and nothing else new.
//
// A live tick object keeps its map, and through the map's back pointers the whole transition chain
// back to the literal's root map, so later tick objects keep getting the same maps and the cache
// stays monomorphic. The object is caught by an async hook that is enabled for one nextTick only.
import { createHook } from 'node:async_hooks';

let kept: object | undefined;

/** Catches and keeps one tick object of the calling thread; later calls do nothing. */
export function keepTickObjectShape(): void {
  if (kept) return;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject' && !kept) kept = resource;
    },
  });
  hook.enable();
  try {
    process.nextTick(() => {});
  } finally {
    hook.disable();
  }
}
