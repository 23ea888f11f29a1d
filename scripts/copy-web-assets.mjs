// The web room's templates and static assets are not TypeScript, so tsc does not emit them: the
// build copies them next to the compiled modules (dist/src/web/), where the plugin looks.
import { cpSync, rmSync } from 'node:fs';

for (const dir of ['templates', 'assets']) {
  rmSync(`dist/src/web/${dir}`, { recursive: true, force: true });
  cpSync(`src/web/${dir}`, `dist/src/web/${dir}`, { recursive: true });
}
