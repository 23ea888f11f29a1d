// keypost <command> [...]: dispatches to src/cli/commands. Usage and configuration mistakes print
// one line per problem and exit 2; a command's own failures print their code and message and exit 1.
// Nothing heavy is imported here: `--help` and `--version` answer before any command module loads.
import { readFileSync } from 'node:fs';
import { UsageError, type CommandContext } from './command.js';
import { COMMANDS } from './commands/index.js';

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: keypost <command> [options]',
    '       keypost --version',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `keypost <command> --help` for the options of one command.',
  ].join('\n');
}

/** The version in package.json, which sits three levels above dist/src/cli/. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function runCli(argv: string[], ctx: CommandContext): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    ctx.stdout.write(`${overview()}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    ctx.stdout.write(`keypost ${version()}\n`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  try {
    if (!entry) throw new UsageError(`unknown command "${name}"; run keypost --help`);
    const command = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      ctx.stdout.write(`${command.usage}\n`);
      return 0;
    }
    return await command.run(rest, ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.stderr.write(`keypost: ${err.message}\n`);
      return 2;
    }
    const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
    // ConfigError (src/config.ts), matched by code so this module need not load the schema.
    if (code === 'CONFIG_INVALID' && Array.isArray((err as { problems?: unknown }).problems)) {
      for (const problem of (err as { problems: string[] }).problems) ctx.stderr.write(`keypost: ${problem}\n`);
      return 2;
    }
    if (typeof code === 'string') {
      ctx.stderr.write(`keypost: ${(err as Error).message} (${code})\n`);
      return 1;
    }
    throw err;
  }
}
