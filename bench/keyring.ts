// The benchmarks' keyring: `count` fresh keys, one address each in `domain`, generated once on all
// cores and cached in the temp dir, so bench:directory and bench:import share the same keys.
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Returns the path of the cached binary keyring, generating it first when absent. */
export async function benchKeyringFile(count: number, domain: string, say: (text: string) => void): Promise<string> {
  const file = path.join(tmpdir(), `keypost-bench-keyring-${domain}-${count}.bin`);
  if (existsSync(file)) {
    say(`keyring: cached ${file}`);
    return file;
  }
  const workers = Math.max(1, availableParallelism());
  const started = Date.now();
  const parts: Uint8Array[][] = Array.from({ length: workers }, () => []);
  let made = 0;
  await Promise.all(
    parts.map((part, w) => {
      const from = Math.floor((count * w) / workers);
      const to = Math.floor((count * (w + 1)) / workers);
      return new Promise<void>((resolve, reject) => {
        const worker = new Worker(path.join(here, 'directory-keygen-worker.js'), { workerData: { from, to, domain } });
        worker.on('message', (message: Uint8Array[] | 'done') => {
          if (message === 'done') return void worker.terminate().then(() => resolve());
          part.push(...message);
          made += message.length;
          if (made % 10_000 < message.length) say(`  generated ${made}/${count} keys`);
        });
        worker.on('error', reject);
      });
    }),
  );
  writeFileSync(file, Buffer.concat(parts.flat()));
  say(`keyring: ${count} keys generated in ${((Date.now() - started) / 1000).toFixed(0)} s on ${workers} threads, cached in ${file}`);
  return file;
}
