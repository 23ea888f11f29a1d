// keypost <command> [...]: dispatches to src/cli/commands. Usage and configuration mistakes print
// one line and exit 2; a command's own failures print their code and message and exit 1.
import { ConfigError } from '../config.js';
import { KeypostError } from '../errors.js';
import { UsageError, type CommandContext } from './command.js';
import { COMMANDS } from './commands/index.js';

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: keypost <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `keypost <command> --help` for the options of one command.',
  ].join('\n');
}

export async function runCli(argv: string[], ctx: CommandContext): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    ctx.stdout.write(`${overview()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new UsageError(`unknown command "${name}"; run keypost --help`);
    if (rest.includes('--help') || rest.includes('-h')) {
      ctx.stdout.write(`${command.usage}\n`);
      return 0;
    }
    return await command.run(rest, ctx);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) ctx.stderr.write(`keypost: ${problem}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      ctx.stderr.write(`keypost: ${err.message}\n`);
      return 2;
    }
    if (err instanceof KeypostError || (err instanceof Error && typeof (err as { code?: unknown }).code === 'string')) {
      const code = (err as unknown as { code: string }).code;
      ctx.stderr.write(`keypost: ${err.message} (${code})\n`);
      return 1;
    }
    throw err;
  }
}
