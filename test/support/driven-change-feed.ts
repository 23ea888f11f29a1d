// A change feed the test drives: the real one follows the database (src/db/change-feed.ts); here
// the test says when a zone changed, so what a reader does on a report is checked step by step.
import { EventEmitter } from 'node:events';
import type { ChangeFeed } from '../../src/db/change-feed.js';

export function drivenChangeFeed(): ChangeFeed & { changed(zone: string): void } {
  const events = new EventEmitter();
  return {
    onZoneChange(fn) {
      events.on('zone', fn);
      return () => events.off('zone', fn);
    },
    async start() {},
    async close() {},
    changed: (zone) => events.emit('zone', zone),
  };
}
