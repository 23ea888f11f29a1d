import { migrateDown, migrateToLatest, migrationStatus } from '../../db/migrate.js';
import { withDatabase } from '../database.js';
import { UsageError, parseCommandArgs, writeJson, type Command } from '../command.js';

export const migrateCommand: Command = {
  name: 'migrate',
  usage: `Usage: keypost migrate <up|down|status> [--json]

  up       apply every pending migration (serve also does this at start)
  down     undo the most recent migration
  status   list migrations and when each was applied
  --json   print the result as JSON`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
    const action = positionals[0];
    if (positionals.length !== 1 || !['up', 'down', 'status'].includes(action)) {
      throw new UsageError('migrate takes one of: up, down, status');
    }
    return withDatabase(
      ctx.env,
      async ({ db }) => {
        if (action === 'status') {
          const rows = await migrationStatus(db);
          if (values.json) writeJson(ctx.stdout, rows);
          else for (const r of rows) ctx.stdout.write(`${r.executedAt ? r.executedAt.toISOString() : 'pending'.padEnd(24)}  ${r.name}\n`);
          return 0;
        }
        const names = action === 'up' ? await migrateToLatest(db) : await migrateDown(db);
        if (values.json) writeJson(ctx.stdout, { [action === 'up' ? 'applied' : 'undone']: names });
        else if (names.length === 0) ctx.stdout.write(action === 'up' ? 'already up to date\n' : 'nothing to undo\n');
        else for (const n of names) ctx.stdout.write(`${action === 'up' ? 'applied' : 'undone'} ${n}\n`);
        return 0;
      },
      { migrate: false, create: true },
    );
  },
};
