// Mailing list fan-out benchmark: one 10 KB post to 1,000 members, each copy signed (once per
// post) by the list key, encrypted to the one member's key as PGP/MIME and queued in PostgreSQL
// with its fan-out record (src/lists/fanout.ts, the list worker's own code path). Compared in the
// same run with a loop of `gpg --encrypt` over the same 1,000 keys and the same 10 KB (encryption
// only, no queue), alternating runs. Prints each run, the medians, their ratio (target ≥ 1.0) and
// the machine load.
//
//   npm run bench:lists [-- --members 1000 --runs 3]
//
// Routing is a fixed hop here: it is a read of the in-memory model of what is published (or a
// cached DNS answer) per member, not what is measured. Needs gpg and PostgreSQL at DATABASE_URL
// (default postgres://postgres@127.0.0.1:5432/postgres; a scratch database is made next to it).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as openpgp from 'openpgp';
import { pino } from 'pino';
import { openDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createDomain } from '../src/directory/domains.js';
import { fanOut, type FanoutMember } from '../src/lists/fanout.js';
import { createList } from '../src/lists/list-admin.js';
import { openListKey } from '../src/lists/list-key.js';
import { requireList } from '../src/lists/list-store.js';
import { memberKey, preparePost } from '../src/lists/member-copy.js';
import { readPost } from '../src/lists/post-reader.js';
import { NO_REQUIREMENT } from '../src/protocol/requirement.js';
import { SealedBox } from '../src/secrets/sealed-box.js';
import { createScratchPostgres } from '../test/support/database.js';

const { values } = parseArgs({ options: { members: { type: 'string', default: '1000' }, runs: { type: 'string', default: '3' } } });
const MEMBERS = Number(values.members);
const RUNS = Number(values.runs);
const ZONE = 'lists.bench.example';
const LIST = `crowd@${ZONE}`;
const say = (text: string) => process.stderr.write(`${text}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

/** `gpg --encrypt` of `plaintext` to each key in turn, one process per key as a shell loop runs it. */
async function gpgLoop(home: string, fingerprints: string[], plaintext: Buffer): Promise<number> {
  const started = performance.now();
  for (const fpr of fingerprints) {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('gpg', ['--homedir', home, '--batch', '--no-tty', '--trust-model', 'always', '--armor', '--encrypt', '-r', fpr], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`gpg --encrypt exited ${code}: ${stderr}`))));
      child.stdin.end(plaintext);
    });
  }
  return fingerprints.length / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  if (spawnSync('gpg', ['--version']).error) throw new Error('gpg is not installed (Debian: apt-get install -y gnupg)');
  say(`cores ${cpus().length}, load at start ${load()}`);
  const scratch = mkdtempSync(path.join(tmpdir(), 'kp-bench-lists-'));
  const home = mkdtempSync('/tmp/kgb-');
  const database = await createScratchPostgres(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  try {
    const handle = await openDatabase({ url: database.url, dataDir: scratch }, { log: pino({ level: 'warn' }) });
    const db = handle.db;
    await migrateToLatest(db);
    await db.transaction().execute((tx) => createDomain(tx, { name: ZONE, policy: {}, now: new Date() }));
    const box = new SealedBox(randomBytes(32));
    await createList(db, { box, now: new Date() }, { address: LIST, membersOnly: false, encryptedOnly: false });
    const list = await requireList(db, LIST);

    const started = Date.now();
    const members: FanoutMember[] = [];
    const armored: string[] = [];
    const fingerprints: string[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      const address = `member${i}@elsewhere.example`;
      const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ email: address }], format: 'armored' });
      const key = await openpgp.readKey({ armoredKey: publicKey });
      members.push({ address, key: await memberKey(key.write()) });
      armored.push(publicKey);
      fingerprints.push(key.getFingerprint().toUpperCase());
    }
    const imported = spawnSync('gpg', ['--homedir', home, '--batch', '--import'], { input: armored.join('\n'), maxBuffer: 64 * 1024 * 1024 });
    if (imported.status !== 0) throw new Error(`gpg --import failed: ${imported.stderr}`);
    say(`${MEMBERS} member keys made and imported into gpg in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const body = 'A post of ten kilobytes, as a list would carry it.\r\n'.repeat(200);
    const raw = Buffer.from(`From: <poster@elsewhere.example>\r\nSubject: the news\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${body}`);
    const listKey = await openListKey(box, LIST, list.secretKeySealed);
    const post = await readPost(raw, listKey, undefined, new Date());
    say(`post content ${post.content.length} octets`);

    const ours: number[] = [];
    const gpg: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const t0 = performance.now();
      const prepared = await preparePost(post, list, listKey, `BENCH${run}`, new Date());
      const queued = await fanOut(
        {
          db,
          route: async (address) => ({ address, nextHop: 'smtp://127.0.0.1:25', requirement: NO_REQUIREMENT }),
          now: () => new Date(),
          queued: () => undefined,
          unroutable: () => undefined,
        },
        { id: `BENCH${run}`, listAddress: LIST, sender: '', prepared },
        members,
      );
      const rate = queued / ((performance.now() - t0) / 1000);
      if (queued !== MEMBERS) throw new Error(`queued ${queued} of ${MEMBERS}`);
      ours.push(rate);
      await db.deleteFrom('mail_queue_recipients').execute();
      await db.deleteFrom('mail_queue').execute();
      await db.deleteFrom('list_fanout').execute();
      gpg.push(await gpgLoop(home, fingerprints, post.content));
      say(`run ${run}: keypost fan-out ${ours.at(-1)!.toFixed(0)} msg/s (queued), gpg --encrypt loop ${gpg.at(-1)!.toFixed(0)} msg/s; load ${load()}`);
    }
    const ratio = median(ours) / median(gpg);
    console.log(
      JSON.stringify({
        members: MEMBERS,
        postOctets: post.content.length,
        runs: RUNS,
        keypostPerSecond: ours.map((x) => Math.round(x)),
        gpgPerSecond: gpg.map((x) => Math.round(x)),
        medianKeypost: Math.round(median(ours)),
        medianGpg: Math.round(median(gpg)),
        ratio: Number(ratio.toFixed(2)),
        target: 1.0,
        cores: cpus().length,
        loadAtEnd: load(),
      }),
    );
    say(`median: keypost ${median(ours).toFixed(0)} msg/s, gpg ${median(gpg).toFixed(0)} msg/s, ratio ${ratio.toFixed(2)} (target >= 1.0); load ${load()}`);
    await handle.close();
  } finally {
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'all']);
    rmSync(home, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
    await database.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
