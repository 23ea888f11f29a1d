// Reading the message a mail command works on: a file, or standard input when the file is "-" or
// left out, the way mail(1) and sendmail(8) take one.
import { readFile } from 'node:fs/promises';
import { UsageError, type CommandContext } from './command.js';

export async function readMessageInput(path: string | undefined, ctx: CommandContext): Promise<Buffer> {
  if (path !== undefined && path !== '-') {
    try {
      return await readFile(path);
    } catch (err) {
      throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (process.stdin.isTTY) ctx.stderr.write('reading the message from standard input; end it with Ctrl-D\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const message = Buffer.concat(chunks);
  if (message.length === 0) throw new UsageError('the message is empty');
  return message;
}
