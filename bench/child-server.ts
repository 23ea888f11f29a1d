// Benchmarks start servers as child processes (keypost serve, a bare fastify for comparison) and
// need the address each one prints once it listens.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildServer {
  child: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

/**
 * Starts a child and waits for `find` to pull the base URL out of a line of `stream` (keypost logs
 * on stderr, the bare server prints on stdout). The stream keeps being drained afterwards so the
 * child never blocks on a full pipe; a child that does not come up is killed.
 */
export function startChild(args: string[], env: NodeJS.ProcessEnv, stream: 'stdout' | 'stderr', find: (line: string) => string | undefined): Promise<ChildServer> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', stream === 'stdout' ? 'pipe' : 'inherit', stream === 'stderr' ? 'pipe' : 'inherit'],
  });
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.removeAllListeners('exit');
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let buffer = '';
    let found = false;
    const timer = setTimeout(() => void stop().then(() => reject(new Error(`${args.join(' ')} did not start`))), 60_000);
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    child[stream]!.on('data', (chunk: Buffer) => {
      if (found) return;
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const base = find(line);
        if (!base) continue;
        found = true;
        clearTimeout(timer);
        resolve({ child, base, stop });
        return;
      }
    });
  });
}

/** A JSON log line as an object, or undefined for any other line. */
export function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
