// Moves key rollovers on when their waits have passed (rollover.ts), so an owner who started one
// only has to act once, at the parent. It checks when the next step falls due, at the latest every
// minute (a rollover started or confirmed elsewhere), and soon after any zone changes here (the
// DNS component pokes it). Any node running DNS may do it: each step locks the zone's key rows and
// checks again that it is due, so two nodes never take the same step twice.
import type { Logger } from 'pino';
import type { Db } from '../../db/database.js';
import type { Component } from '../../lifecycle.js';
import { advanceDueRollovers, type RolloverTiming, type TimedStep } from './rollover.js';

/** The mail log's event for each step (README "Rolling the signing key"). */
const STEP_EVENTS: Record<TimedStep['kind'], string> = {
  publish: 'dnssec_key_published',
  activate: 'dnssec_key_active',
  withdraw: 'dnssec_key_withdrawn',
  remove: 'dnssec_key_removed',
};
const STEP_LINES: Record<TimedStep['kind'], (s: TimedStep) => string> = {
  publish: (s) => `key ${s.newKey} is in the DNSKEY RRset now`,
  activate: (s) => `key ${s.newKey} signs the zone now and CDS names it; key ${s.oldKey} retired`,
  withdraw: (s) => `key ${s.oldKey} left the DNSKEY RRset`,
  remove: (s) => `key ${s.oldKey} removed`,
};

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
          for (const { zone, step } of done) log.info({ event: STEP_EVENTS[step.kind], zone, key: step.newKey, oldKey: step.oldKey }, `${zone}: ${STEP_LINES[step.kind](step)}`);
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
