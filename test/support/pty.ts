// Runs the compiled keypost CLI on a pseudo-terminal, the way a person at a terminal sees it:
// util-linux script(1) gives the child a pty for stdin, stdout and stderr and copies what the
// terminal shows to our pipe (with the pty's \r\n line ends). script -e exits with the child's code.
import { spawn, type ChildProcess } from 'node:child_process';
import { KEYPOST_BIN } from './keypost-process.js';

export interface TerminalRun {
  child: ChildProcess;
  /** Everything the terminal showed so far. */
  output(): string;
  /** Resolves with the output so far once it matches `pattern`; rejects if the run ends first. */
  waitFor(pattern: RegExp): Promise<string>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Ends the run: closing the pty hangs up the keypost process. */
  stop(): Promise<number | null>;
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

export function runKeypostOnTerminal(args: string[], env: Record<string, string | undefined> = {}): TerminalRun {
  const command = [process.execPath, KEYPOST_BIN, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { ...process.env, KEYPOST_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: { pattern: RegExp; resolve(text: string): void }[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const waiter of waiters.splice(0)) {
      if (waiter.pattern.test(output)) waiter.resolve(output);
      else waiters.push(waiter);
    }
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  return {
    child,
    output: () => output,
    exited,
    waitFor(pattern) {
      if (pattern.test(output)) return Promise.resolve(output);
      return new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        void exited.then((code) => reject(new Error(`the run ended (exit ${code}) before ${pattern}:\n${JSON.stringify(output)}`)));
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
