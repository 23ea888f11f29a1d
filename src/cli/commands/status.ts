// keypost status: which database this environment points at, whether a server runs on it and where
// it listens, the zones with their serials, and how much mail waits in the queue.
import { databaseLocation } from '../../db/location.js';
import { queueCounts } from '../../gateway/queue-admin.js';
import { runningServers } from '../../serve-registry.js';
import { withDatabase } from '../database.js';
import { formatAge, parseCommandArgs, writeJson, type Command } from '../command.js';

export const statusCommand: Command = {
  name: 'status',
  usage: `Usage: keypost status [--json]

Shows the database keypost would use (KEYPOST_DATA_DIR or DATABASE_URL), whether a keypost serve
runs on it and the addresses it listens on, the zones with their SOA serials, and the mail queue
(messages, deferred recipients, age of the oldest message).
  --json   print the same as JSON`,
  async run(argv, ctx) {
    const { values } = parseCommandArgs(argv, { json: { type: 'boolean' } }, false);
    return withDatabase(
      ctx.env,
      async ({ db, backend }, config) => {
        const [servers, zones, queue] = await Promise.all([
          runningServers(db),
          db.selectFrom('domains').select(['name', 'serial']).orderBy('name').execute(),
          queueCounts(db),
        ]);
        const database = { backend, location: databaseLocation(config.database) };
        if (values.json) {
          writeJson(ctx.stdout, { database, servers, zones: zones.map((z) => ({ name: z.name, serial: Number(z.serial) })), queue });
          return 0;
        }
        const out: string[] = [`database: ${database.location}`];
        if (servers.length === 0) out.push('server:   none running on this database');
        for (const s of servers) {
          const listens = Object.entries(s.listeners).map(([name, address]) => `${name} ${address}`).join(', ');
          out.push(`server:   running on ${s.hostname} (process ${s.pid}, up ${formatAge(s.startedAt)}): ${listens}`);
        }
        if (zones.length === 0) out.push('zones:    none (add one with keypost domain add)');
        for (const z of zones) out.push(`zone:     ${z.name} serial ${z.serial}`);
        out.push(
          `queue:    ${queue.messages} messages (${queue.recipients} recipients), ${queue.deferred} deferred` +
            (queue.oldestReceivedAt ? `, oldest ${formatAge(queue.oldestReceivedAt)}` : ''),
        );
        ctx.stdout.write(`${out.join('\n')}\n`);
        return 0;
      },
      { migrate: false },
    );
  },
};
