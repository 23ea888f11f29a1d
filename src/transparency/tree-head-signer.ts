// Keeps every zone's signed tree head current: a zone change (change feed) queues the zone, and
// queued zones are signed together after a short pause, so a burst of publishes costs one head
// while a head still follows its change within a second (the feed's own delay plus BATCH_MS).
// Every node runs one; the head row lock makes them sign each tree size once between them.
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';
import type { ChangeFeed } from '../db/change-feed.js';
import type { SealedBox } from '../secrets/sealed-box.js';
import { signLatestTreeHead, zonesBehind } from './tree-heads.js';

const BATCH_MS = 200;

export interface TreeHeadSignerDeps {
  db: Db;
  changeFeed: ChangeFeed;
  /** Opened at start, so a node without the key file fails then, not at the first publish. */
  openBox: () => SealedBox;
  log: Logger;
  now: () => Date;
}

export interface TreeHeadSigner {
  readonly name: string;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createTreeHeadSigner(deps: TreeHeadSignerDeps): TreeHeadSigner {
  const pending = new Set<string>();
  let box: SealedBox | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let unsubscribe: (() => void) | undefined;
  let closed = false;

  async function signQueued(): Promise<void> {
    timer = undefined;
    const zones = [...pending].sort();
    pending.clear();
    for (const zone of zones) {
      if (closed) return;
      try {
        await signLatestTreeHead(deps.db, box!, zone, deps.now());
      } catch (err) {
        deps.log.error({ err, zone }, 'could not sign the log head; retrying at the next change');
      }
    }
  }

  function queue(zone: string): void {
    if (closed) return;
    pending.add(zone);
    timer ??= setTimeout(() => {
      running = running.then(signQueued);
    }, BATCH_MS);
  }

  return {
    name: 'transparency',
    async start() {
      box = deps.openBox();
      unsubscribe = deps.changeFeed.onZoneChange(queue);
      for (const zone of await zonesBehind(deps.db)) pending.add(zone);
      running = running.then(signQueued);
      await running;
    },
    async close() {
      closed = true;
      unsubscribe?.();
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
