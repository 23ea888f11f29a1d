// Moves key rollovers on when their waits have passed (rollover.ts), so an owner who started one
// only has to act once, at the parent. It checks when the next step falls due, at the latest every
// minute (a rollover started or confirmed elsewhere), and soon after any zone changes here (the
// DNS component pokes it). Any node running DNS may do it: each step locks the zone's key rows and
// checks again that it is due, so two nodes never take the same step twice.
import type { Logger } from 'pino';
import type { Db } from '../../db/database.js';
import type { Component } from '../../lifecycle.js';
import { advanceDueRollovers, type RolloverTiming } from './rollover.js';

export interface RolloverClockOptions {
  db: Db;
  log: Logger;
  timing: RolloverTiming;
  /** Longest time between checks; default one minute, small next to any TTL a step waits for. */
  intervalMs?: number;
  now?: () => Date;
}

export interface RolloverClock extends Component {
  /** Checks soon: a zone changed, perhaps a rollover started. */
  poke(): void;
}

export function createRolloverClock(options: RolloverClockOptions): RolloverClock {
  const log = options.log.child({ component: 'dnssec-rollover' });
  const now = options.now ?? (() => new Date());
  const interval = options.intervalMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const schedule = (delayMs: number) => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void check(), Math.max(0, Math.min(interval, delayMs)));
    // Housekeeping never keeps the process alive on its own.
    timer.unref();
  };

  const check = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = advanceDueRollovers(options.db, options.timing, now())
      .then(
        ({ done, nextAt }) => {
          for (const { zone, step } of done) {
            if (step.kind === 'activate') log.info({ event: 'dnssec_key_active', zone, key: step.newKey, retired: step.oldKey }, `${zone}: key ${step.newKey} signs the zone now; CDS names it`);
            else log.info({ event: 'dnssec_key_removed', zone, key: step.oldKey }, `${zone}: retired key ${step.oldKey} removed`);
          }
          // A timer fires a little early or late; a step found not yet due is simply checked again.
          schedule(nextAt ? nextAt.getTime() - now().getTime() + 50 : interval);
        },
        // A database hiccup must not stop the process; the next check tries again.
        (err: unknown) => {
          log.warn({ err }, 'advancing DNSSEC key rollovers failed');
          schedule(interval);
        },
      )
      .finally(() => {
        running = undefined;
        if (again && !closed) {
          again = false;
          void check();
        }
      });
    return running;
  };

  return {
    name: 'dnssec-rollover',
    poke() {
      if (!closed) schedule(0);
    },
    async start() {
      await check();
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
