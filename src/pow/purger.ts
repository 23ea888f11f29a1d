// Periodic purge of spent-stamp records whose stamps have expired. Run it in any process that
// spends stamps (the gateway); several nodes purging the same table is harmless, DELETE of expired
// rows being idempotent. `keypost stamp purge` does the same once, for cron.
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';
import type { Component } from '../lifecycle.js';
import { purgeExpiredStamps } from './spent-store.js';

export interface SpentStampPurgerDeps {
  db: Db;
  log: Logger;
  now(): Date;
  /** Time between purges; default one hour (stamps are dated to the day, so finer buys nothing). */
  intervalMs?: number;
}

export interface SpentStampPurger extends Component {
  /** Purges now; resolves with the number of records removed (0 after a failure, which is logged). */
  purgeNow(): Promise<number>;
}

export function createSpentStampPurger(deps: SpentStampPurgerDeps): SpentStampPurger {
  const log = deps.log.child({ component: 'spent-stamp-purger' });
  const intervalMs = deps.intervalMs ?? 3_600_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let closed = false;

  const purgeNow = (): Promise<number> => {
    // One purge at a time; a tick that finds one running joins it.
    running ??= (async () => {
      try {
        const removed = await purgeExpiredStamps(deps.db, deps.now());
        if (removed > 0) log.info({ removed }, 'purged expired spent stamps');
        return removed;
      } catch (err) {
        // A database hiccup must not stop the process; the next tick tries again.
        log.warn({ err }, 'purging expired spent stamps failed');
        return 0;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  return {
    name: 'spent-stamp-purger',
    purgeNow,
    async start() {
      if (closed || timer) return;
      timer = setInterval(() => void purgeNow(), intervalMs);
      // Housekeeping never keeps the process alive on its own.
      timer.unref();
      await purgeNow();
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
