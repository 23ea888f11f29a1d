// Asking the person at the terminal for a secret (a key passphrase) without echoing it, the way
// gpg's pinentry-tty does; never from an argument, where other users could read it in ps.
export async function promptHidden(question: string, stdin: NodeJS.ReadStream = process.stdin, stderr: NodeJS.WritableStream = process.stderr): Promise<string | undefined> {
  if (!stdin.isTTY) return undefined;
  stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  let answer = '';
  try {
    return await new Promise<string | undefined>((resolve) => {
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n') {
            stdin.off('data', onData);
            resolve(answer);
            return;
          }
          if (char === '\u0003' || char === '\u0004') {
            // Ctrl-C, Ctrl-D: give up rather than sign with a half-typed secret.
            stdin.off('data', onData);
            resolve(undefined);
            return;
          }
          answer = char === '\u007f' || char === '\b' ? answer.slice(0, -1) : answer + char;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    stderr.write('\n');
  }
}
