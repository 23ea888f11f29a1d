// keypost backup <file> / keypost restore <file>: a consistent copy of the database while serve
// runs, and its restoration into a fresh data directory or empty PostgreSQL database.
import { rename, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { dumpDatabase, restoreDatabase, type Backup } from '../../db/backup.js';
import { databaseLocation, hasSchema } from '../../db/location.js';
import { migrateToLatest } from '../../db/migrate.js';
import { withDatabase } from '../database.js';
import { UsageError, parseCommandArgs, readFileOrStdin, type Command } from '../command.js';

function oneFile(argv: string[], name: string): string {
  const { positionals } = parseCommandArgs(argv, {});
  if (positionals.length !== 1) throw new UsageError(`${name} takes one file name`);
  return positionals[0];
}

export const backupCommand: Command = {
  name: 'backup',
  usage: `Usage: keypost backup <file>

Writes every zone, key, address, token and queued message to <file> (gzip-compressed JSON), read
in one transaction: consistent while keypost serve runs. Restore it with keypost restore.`,
  async run(argv, ctx) {
    const file = oneFile(argv, 'backup');
    return withDatabase(
      ctx.env,
      async ({ db }, config) => {
        const backup = await dumpDatabase(db);
        // Written beside the target and renamed: an interrupted backup never looks complete.
        const partial = `${file}.partial`;
        await writeFile(partial, gzipSync(JSON.stringify(backup)), { mode: 0o600 });
        await rename(partial, file);
        const rows = Object.values(backup.tables).reduce((n, t) => n + t.length, 0);
        ctx.stdout.write(`backed up ${databaseLocation(config.database)} to ${file}: ${backup.tables.domains?.length ?? 0} zones, ${rows} rows\n`);
        return 0;
      },
      { migrate: false },
    );
  },
};

export const restoreCommand: Command = {
  name: 'restore',
  usage: `Usage: keypost restore <file>

Restores a file written by keypost backup into a database that does not exist yet: a new
KEYPOST_DATA_DIR, or an empty PostgreSQL database in DATABASE_URL. Then start keypost serve on it.`,
  async run(argv, ctx) {
    const file = oneFile(argv, 'restore');
    let backup: Backup;
    try {
      backup = JSON.parse(gunzipSync(await readFileOrStdin(file)).toString('utf8')) as Backup;
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`${file} is not a keypost backup`);
    }
    return withDatabase(
      ctx.env,
      async ({ db }, config) => {
        if (await hasSchema(db)) {
          throw new UsageError(`${databaseLocation(config.database)} already holds a keypost database; restore into a new KEYPOST_DATA_DIR or an empty database`);
        }
        await migrateToLatest(db);
        const rows = await restoreDatabase(db, backup);
        ctx.stdout.write(`restored ${file} into ${databaseLocation(config.database)}: ${backup.tables.domains?.length ?? 0} zones, ${rows} rows\n`);
        return 0;
      },
      { migrate: false, create: true },
    );
  },
};
