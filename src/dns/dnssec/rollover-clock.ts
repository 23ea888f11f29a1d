// Moves key rollovers on when their waits have passed (rollover.ts), so an owner who started one
// only has to act once, at the parent. Any node running DNS may do it: each step locks the zone's
// key rows and checks again that it is due, so two nodes never take the same step twice.
import type { Logger } from 'pino';
import type { Db } from '../../db/database.js';
import type { Component } from '../../lifecycle.js';
import { advanceDueRollovers, type RolloverTiming } from './rollover.js';

export interface RolloverClockOptions {
  db: Db;
  log: Logger;
  timing: RolloverTiming;
  /** Time between checks; default one minute, small next to any TTL a step waits for. */
  intervalMs?: number;
  now?: () => Date;
}

export function createRolloverClock(options: RolloverClockOptions): Component {
  const log = options.log.child({ component: 'dnssec-rollover' });
  const now = options.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const check = () => {
    running ??= advanceDueRollovers(options.db, options.timing, now())
      .then(
        (done) => {
          for (const { zone, step } of done) {
            if (step.kind === 'activate') log.info({ event: 'dnssec_key_active', zone, key: step.newKey, retired: step.oldKey }, `${zone}: key ${step.newKey} signs the zone now; CDS names it`);
            else log.info({ event: 'dnssec_key_removed', zone, key: step.oldKey }, `${zone}: retired key ${step.oldKey} removed`);
          }
        },
        // A database hiccup must not stop the process; the next check tries again.
        (err: unknown) => log.warn({ err }, 'advancing DNSSEC key rollovers failed'),
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  return {
    name: 'dnssec-rollover',
    async start() {
      timer = setInterval(() => void check(), options.intervalMs ?? 60_000);
      timer.unref();
      await check();
    },
    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
