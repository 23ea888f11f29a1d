// The embedded database's first start without initdb.
//
// Creating a PGlite data directory runs initdb inside PGlite (bootstrap, then the SQL that builds
// the catalogs, views and template databases): about two thirds of the first start's CPU time.
// PGlite itself does it in memory, dumps the result as a tar file and unpacks that into the data
// directory. The build (npm run build) does the first half once: it runs initdb in an in-memory
// PGlite and keeps the dump next to this module; the first start then only unpacks it
// (PGlite's loadDataDir). The dump is used only with the PGlite it was made by; otherwise, or when
// the build did not write one, the first start runs initdb as before.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TEMPLATE_DIR = fileURLToPath(new URL('.', import.meta.url));
const TARBALL = 'pgdata-template.tar.gz';
const INFO = 'pgdata-template.json';

interface TemplateInfo {
  /** The @electric-sql/pglite version that ran initdb. */
  pglite: string;
}

/** The installed PGlite's version, from its package.json (which its exports map does not list). */
export function installedPgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  let dir = path.dirname(entry);
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The dump for the installed PGlite, or undefined when there is none (then initdb runs). */
export function readTemplate(dir = TEMPLATE_DIR): Blob | undefined {
  try {
    const info = JSON.parse(readFileSync(path.join(dir, INFO), 'utf8')) as TemplateInfo;
    if (info.pglite !== installedPgliteVersion()) return undefined;
    return new Blob([readFileSync(path.join(dir, TARBALL))]);
  } catch {
    return undefined;
  }
}

/** Runs initdb in an in-memory PGlite and writes its dump and version to `dir`. */
export async function writeTemplate(dir = TEMPLATE_DIR): Promise<number> {
  const { PGlite } = await import('@electric-sql/pglite');
  const pglite = await PGlite.create();
  try {
    const dump = Buffer.from(await (await pglite.dumpDataDir('gzip')).arrayBuffer());
    writeFileSync(path.join(dir, TARBALL), dump);
    writeFileSync(path.join(dir, INFO), `${JSON.stringify({ pglite: installedPgliteVersion() } satisfies TemplateInfo)}\n`);
    return dump.length;
  } finally {
    await pglite.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeTemplate().then(
    (size) => process.stdout.write(`embedded database template: ${size} octets\n`),
    (err) => {
      process.stderr.write(`embedded database template failed: ${(err as Error).stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
}
