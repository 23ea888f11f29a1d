// One-shot commands (migrate, domain, key, stamp --spend) open the database for their duration.
// On the embedded default this reaches a running `serve` through its socket (src/db/embedded.ts).
// Only `migrate` may create a database; every other command refuses where it finds none.
import { pino } from 'pino';
import { loadConfig, type Config } from '../config.js';
import { openDatabase, type DatabaseHandle } from '../db/connect.js';
import { embeddedDatabaseFound, hasSchema, noDatabaseMessage } from '../db/location.js';
import { migrateToLatest } from '../db/migrate.js';
import { UsageError } from './command.js';

export async function withDatabase<T>(
  env: Record<string, string | undefined>,
  fn: (handle: DatabaseHandle, config: Readonly<Config>) => Promise<T>,
  options: { migrate?: boolean; create?: boolean } = {},
): Promise<T> {
  const config = loadConfig(env);
  // Checked before opening: opening the embedded database creates its files.
  if (!options.create && !config.database.url && !embeddedDatabaseFound(config.database)) {
    throw new UsageError(noDatabaseMessage(config.database));
  }
  const log = pino({ level: config.log.level === 'info' ? 'warn' : config.log.level }, pino.destination(2));
  const handle = await openDatabase(config.database, { log, maxConnections: 4 });
  try {
    if (!options.create && !(await hasSchema(handle.db))) throw new UsageError(noDatabaseMessage(config.database));
    if (options.migrate !== false) await migrateToLatest(handle.db);
    return await fn(handle, config);
  } finally {
    await handle.close();
  }
}
