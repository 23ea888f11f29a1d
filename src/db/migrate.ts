// Runs the migrations in migrations/ (compiled next to this module's dist tree).
// kysely's PostgreSQL adapter takes a transaction-scoped advisory lock while migrating, so nodes
// starting together against one PostgreSQL run each migration once.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileMigrationProvider, Migrator, type MigrationResultSet } from 'kysely';
import type { Db } from './database.js';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

export class MigrationError extends Error {
  readonly code = 'DB_MIGRATION_FAILED';
}

export function createMigrator(db: Db): Migrator {
  return new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: MIGRATIONS_DIR }),
  });
}

function unwrap(result: MigrationResultSet): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MigrationError(`migration ${failed} failed: ${String((result.error as Error).message ?? result.error)}`);
  }
  return (result.results ?? []).map((r) => r.migrationName);
}

/** Apply every pending migration; returns the names applied. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  return unwrap(await createMigrator(db).migrateToLatest());
}

/** Undo the most recent migration; returns the names undone. */
export async function migrateDown(db: Db): Promise<string[]> {
  return unwrap(await createMigrator(db).migrateDown());
}

export async function migrationStatus(db: Db): Promise<{ name: string; executedAt: Date | undefined }[]> {
  const all = await createMigrator(db).getMigrations();
  return all.map((m) => ({ name: m.name, executedAt: m.executedAt }));
}
