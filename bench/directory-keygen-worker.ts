// Worker thread of the directory benchmark: generates ed25519 keys (one user ID each,
// user<i>@<domain>) with openpgp.js and posts them back as binary transferable keys.
import { parentPort, workerData } from 'node:worker_threads';
import * as openpgp from 'openpgp';

interface Job {
  from: number;
  to: number;
  domain: string;
}

const { from, to, domain } = workerData as Job;
const CHUNK = 500;
for (let start = from; start < to; start += CHUNK) {
  const keys: Uint8Array[] = [];
  for (let i = start; i < Math.min(start + CHUNK, to); i++) {
    const { publicKey } = await openpgp.generateKey({
      type: 'ecc',
      userIDs: [{ name: `Bench User ${i}`, email: `user${i}@${domain}` }],
      format: 'binary',
    });
    keys.push(publicKey);
  }
  parentPort!.postMessage(keys);
}
parentPort!.postMessage('done');
