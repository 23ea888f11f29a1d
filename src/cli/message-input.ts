// Reading the message a mail command works on: a file, or standard input when the file is "-" or
// left out, the way mail(1) and sendmail(8) take one.
import { UsageError, readFileOrStdin, type CommandContext } from './command.js';

export async function readMessageInput(path: string | undefined, ctx: CommandContext): Promise<Buffer> {
  const message = await readFileOrStdin(path, { stderr: ctx.stderr, text: 'reading the message from standard input; end it with Ctrl-D' });
  if (message.length === 0) throw new UsageError('the message is empty');
  return message;
}
