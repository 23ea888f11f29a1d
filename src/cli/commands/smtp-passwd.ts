// keypost smtp-passwd <user>: prints a line for the KEYPOST_SMTP_AUTH_USERS file, with the
// password (read from stdin, so it stays out of the shell history) stored as an scrypt hash.
import { hashPassword } from '../../gateway/auth-users.js';
import { UsageError, parseCommandArgs, type Command } from '../command.js';

async function readStdin(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk;
  return text.replace(/\r?\n$/, '');
}

export const smtpPasswdCommand: Command = {
  name: 'smtp-passwd',
  usage: `Usage: keypost smtp-passwd <user> < password

Reads the password from standard input and prints "user:scrypt$..." for the gateway's users file
(KEYPOST_SMTP_AUTH_USERS). Authenticated users skip the stamp rule and may use submission mode.`,
  async run(argv, ctx) {
    const { positionals } = parseCommandArgs(argv, {});
    const user = positionals[0];
    if (positionals.length !== 1 || !/^[^\s:]+$/.test(user)) throw new UsageError('smtp-passwd takes one user name (no spaces or colons)');
    const password = await readStdin(process.stdin);
    if (!password) throw new UsageError('no password on standard input');
    ctx.stdout.write(`${user}:${await hashPassword(password)}\n`);
    return 0;
  },
};
