import { loadConfig } from '../../config.js';
import { createLogger } from '../../log.js';
import { LISTENERS, startKeypost, type ListenerName } from '../../main.js';
import { UsageError, parseCommandArgs, type Command } from '../command.js';

// Ctrl-C must not hang: if draining takes longer than this, exit anyway (with a failure code).
const SHUTDOWN_DEADLINE_MS = 8000;

export const serveCommand: Command = {
  name: 'serve',
  usage: `Usage: keypost serve [--only dns,api,gateway]

Runs the listeners of keypost in one process against one database.
  --only LIST   comma-separated subset of: ${LISTENERS.join(', ')} (default: all)

Listen addresses, database and log level come from the environment (see the README).
SIGINT or SIGTERM closes the listeners, drains in-flight work and exits 0.`,
  async run(argv, ctx) {
    const { values } = parseCommandArgs(argv, { only: { type: 'string' } }, false);
    let only: ListenerName[] | undefined;
    if (values.only !== undefined) {
      only = values.only.split(',').map((s) => s.trim()).filter(Boolean) as ListenerName[];
      const unknown = only.filter((name) => !(LISTENERS as readonly string[]).includes(name));
      if (unknown.length || only.length === 0) throw new UsageError(`--only takes ${LISTENERS.join(', ')}; got "${values.only}"`);
    }
    const config = loadConfig(ctx.env);
    const log = createLogger(config.log.level);
    const running = await startKeypost({ config, log, only });
    return new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down');
        const deadline = setTimeout(() => {
          log.error('shutdown deadline passed; exiting');
          resolve(1);
        }, SHUTDOWN_DEADLINE_MS);
        deadline.unref();
        running.close().then(
          () => {
            clearTimeout(deadline);
            log.info('stopped');
            resolve(0);
          },
          (err) => {
            log.error({ err }, 'shutdown failed');
            resolve(1);
          },
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // Ready is announced only once a signal would be handled: a supervisor (or a test) that reads
      // this line may send SIGTERM at once, and before the handler exists that signal kills the
      // process outright instead of draining it.
      log.info({ backend: running.services.database.backend }, 'keypost ready');
    });
  },
};
