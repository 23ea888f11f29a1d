// SMTP gateway benchmark: keypost on PostgreSQL (stamp check, durable queue, relay) in front of
// Postfix's smtp-sink, against two peers in the same run: a real Postfix relay (smtp-source →
// smtpd → its own fsynced queue → smtp → smtp-sink, bench/postfix-relay.ts), and smtp-source
// talking to smtp-sink directly (the ceiling of the tools themselves).
//
//   npm run bench:smtp      (DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/test; a
//                            scratch database is created next to it and dropped afterwards; the
//                            Postfix relay needs root and the postfix package)
//
// Scenarios, each the median of BENCH_RUNS runs (default 3):
//   - 1 KB, 100 KB and 10 MB messages from 20 concurrent sessions, each reusing its connection;
//   - 1 KB messages with a new connection per message from 200 sessions;
//   - one 1 GB message (BENCH_HUGE_MB), keypost only: the time to accept and relay it, and the
//     gateway's peak RSS.
// keypost's figure is accepted-and-relayed: from the first connection until every message got its
// 250 and the queue is empty again (so smtp-sink has them all); the Postfix relay's likewise, until
// its queue directories are empty. Stamps are minted before the clock starts, at a price of 8
// bits. The load generator speaks SMTP without pipelining, as smtp-source does. The gateway's peak
// RSS is sampled during each run to show memory stays bounded.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { pino } from 'pino';
import { openDatabase, type DatabaseHandle } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { mintStamp } from '../src/pow/mint.js';
import { createScratchPostgres } from '../test/support/database.js';
import { seedAddress, seedDomain } from '../test/gateway/support.js';
import { freePort } from '../test/support/ports.js';
import { sendLargeByData, smtpClient } from '../test/support/large-mail.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startPostfixRelay, type PostfixRelay } from './postfix-relay.js';

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CLI = path.resolve('dist/src/cli/main.js');
const RCPT = 'rcpt@bench.example';
const PRICE = 8;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A minimal lock-step SMTP client: one command, one reply, no pipelining (like smtp-source). */
class Client {
  private buffer = '';
  private waiting: ((reply: string) => void) | undefined;
  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('latin1');
      this.deliver();
    });
  }
  /** Hands a complete reply (ending in a line "ddd text", RFC 5321 section 4.2.1) to the waiter. */
  private deliver(): void {
    if (!this.waiting) return;
    const end = /(^|\r\n)\d{3} [^\r\n]*\r\n/.exec(this.buffer);
    if (!end) return;
    const upTo = end.index + end[0].length;
    const reply = this.buffer.slice(0, upTo);
    this.buffer = this.buffer.slice(upTo);
    const w = this.waiting;
    this.waiting = undefined;
    w(reply);
  }
  static async open(host: string, port: number): Promise<Client> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, host, () => resolve(s));
      s.once('error', reject);
    });
    const client = new Client(socket);
    await client.expect(undefined, '220');
    await client.expect('EHLO bench.client', '250');
    return client;
  }
  private reply(): Promise<string> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.deliver();
    });
  }
  async expect(line: string | Buffer | undefined, code: string): Promise<string> {
    if (line !== undefined) this.socket.write(typeof line === 'string' ? `${line}\r\n` : line);
    const reply = await this.reply();
    if (!reply.startsWith(code)) throw new Error(`expected ${code}, got ${reply.trim()}`);
    return reply;
  }
  async send(message: Buffer): Promise<void> {
    await this.expect('MAIL FROM:<sender@bench.client>', '250');
    await this.expect(`RCPT TO:<${RCPT}>`, '250');
    await this.expect('DATA', '354');
    await this.expect(message, '250');
  }
  async quit(): Promise<void> {
    await this.expect('QUIT', '221').catch(() => undefined);
    this.socket.destroy();
  }
}

function message(stamp: string, n: number, size: number): Buffer {
  const head = `From: <sender@bench.client>\r\nTo: <${RCPT}>\r\nSubject: bench ${n}\r\nX-Hashcash: ${stamp}\r\n\r\n`;
  const line = `${'x'.repeat(76)}\r\n`;
  let body = '';
  while (body.length + line.length <= size) body += line;
  return Buffer.from(`${head}${body}.\r\n`, 'latin1');
}

async function mintAll(count: number): Promise<string[]> {
  const stamps: string[] = [];
  for (let i = 0; i < count; i++) stamps.push((await mintStamp(RCPT, PRICE)).stamp);
  return stamps;
}

/** CPU seconds (user + system) the process has used so far. */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssOf(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 0; // the gateway is gone (the run failed); its error is reported by the caller
  }
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

interface Gateway {
  child: ChildProcess;
  host: string;
  port: number;
  stop(): Promise<void>;
}

async function startGateway(env: Record<string, string>): Promise<Gateway> {
  // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the gateway process.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'serve', '--only', 'gateway'], {
    env: { ...process.env, ...env, KEYPOST_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      const m = /"address":"([^"]+)".*"msg":"gateway listening/.exec(out);
      if (m) resolve(m[1]);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${out}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  const [host, port] = address.split(/:(?=\d+$)/);
  return {
    child,
    host,
    port: Number(port),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function queueEmpty(db: DatabaseHandle): Promise<boolean> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from mail_queue`.execute(db.db);
  return Number(rows[0].n) === 0;
}

/** Transactions the database committed so far (autocommit statements included). */
async function commits(db: DatabaseHandle): Promise<number> {
  const { rows } = await sql<{ n: string }>`select xact_commit as n from pg_stat_database where datname = current_database()`.execute(db.db);
  return Number(rows[0].n);
}

interface Result {
  /** Database transactions per message (PostgreSQL's statistics lag slightly; indicative). */
  xactsPerMsg: number;
  msgsPerSec: number;
  peakRssMb: number;
  /** Gateway CPU time per message: what one dedicated core would allow, whatever else runs. */
  cpuMsPerMsg: number;
}

/** Sends every message through the gateway and waits until the queue has drained. */
async function drive(gw: Gateway, db: DatabaseHandle, messages: Buffer[], sessions: number, reuse: boolean): Promise<Result> {
  let next = 0;
  let peak = rssOf(gw.child.pid!);
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(gw.child.pid!))), 50);
  const started = performance.now();
  const cpuBefore = cpuOf(gw.child.pid!);
  const xactsBefore = await commits(db);
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      let client: Client | undefined;
      while (next < messages.length) {
        const m = messages[next++];
        client ??= await Client.open(gw.host, gw.port);
        await client.send(m);
        if (!reuse) {
          await client.quit();
          client = undefined;
        }
      }
      await client?.quit();
    }),
  );
  while (!(await queueEmpty(db))) await sleep(5);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, rssOf(gw.child.pid!));
  const cpuMsPerMsg = ((cpuOf(gw.child.pid!) - cpuBefore) * 1000) / messages.length;
  await sleep(600); // let the statistics collector catch up
  const xactsPerMsg = (await commits(db) - xactsBefore) / messages.length;
  return { msgsPerSec: messages.length / seconds, peakRssMb: peak / 1024 / 1024, cpuMsPerMsg, xactsPerMsg };
}

async function peer(sinkPort: number, count: number, size: number, sessions: number, reuse: boolean): Promise<number> {
  const args = ['-s', String(sessions), '-m', String(count), '-l', String(size), ...(reuse ? ['-d'] : []), `127.0.0.1:${sinkPort}`];
  const started = performance.now();
  await run('smtp-source', args, { maxBuffer: 16 * 1024 * 1024 });
  return count / ((performance.now() - started) / 1000);
}

/** smtp-source through the Postfix relay, timed until its queue is empty (smtp-sink has them all). */
async function postfixPeer(relay: PostfixRelay, count: number, size: number, sessions: number, reuse: boolean): Promise<number> {
  const args = ['-s', String(sessions), '-m', String(count), '-l', String(size), '-f', 'sender@bench.client', '-t', RCPT, ...(reuse ? ['-d'] : []), `127.0.0.1:${relay.port}`];
  const started = performance.now();
  await run('smtp-source', args, { maxBuffer: 16 * 1024 * 1024 });
  while (relay.queued() > 0) await sleep(10);
  return count / ((performance.now() - started) / 1000);
}

/** One very large message through keypost: seconds until it was relayed, and the peak RSS. */
async function hugeMessage(gw: Gateway, db: DatabaseHandle, megabytes: number): Promise<{ seconds: number; acceptSeconds: number; peakRssMb: number }> {
  let peak = rssOf(gw.child.pid!);
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(gw.child.pid!))), 50);
  const started = performance.now();
  const client = await smtpClient(`${gw.host}:${gw.port}`);
  await client.command('EHLO bench.client');
  const [stamp] = await mintAll(1);
  const headers = `From: <sender@bench.client>\r\nTo: <${RCPT}>\r\nSubject: bench huge\r\nX-Hashcash: ${stamp}\r\n`;
  const sent = await sendLargeByData(client, { from: 'sender@bench.client', to: RCPT }, headers, megabytes * 1024 * 1024);
  if (!sent.reply.startsWith('250')) throw new Error(`huge message refused: ${sent.reply}`);
  const acceptSeconds = (performance.now() - started) / 1000;
  await client.command('QUIT');
  while (!(await queueEmpty(db))) await sleep(50);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  return { seconds, acceptSeconds, peakRssMb: Math.max(peak, rssOf(gw.child.pid!)) / 1024 / 1024 };
}

async function main(): Promise<void> {
  const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const scratch = await createScratchPostgres(baseUrl);
  const sinkPort = await freePort();
  // smtp-sink drops privileges when started as root; "nobody" exists everywhere.
  const sink = spawn('smtp-sink', [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), `127.0.0.1:${sinkPort}`, '1024'], { stdio: 'ignore' });
 const relayPort = await freePort();
  const relay = await startPostfixRelay(relayPort, sinkPort);
  // Block files of large messages go to the gateway's data directory.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kp-bench-smtp-'));
  let gw: Gateway | undefined;
  const db = await openDatabase({ url: scratch.url, dataDir: '/nonexistent' }, { log: pino({ level: 'silent' }) });
  try {
    await migrateToLatest(db.db);
    await seedDomain(db, 'bench.example', { powBits: PRICE, nextHop: `smtp://127.0.0.1:${sinkPort}` });
    await seedAddress(db, RCPT);
    await sleep(300);
    gw = await startGateway({
      DATABASE_URL: scratch.url,
      KEYPOST_DATA_DIR: dataDir,
      KEYPOST_SMTP_LISTEN: '127.0.0.1:0',
      KEYPOST_HTTP_LISTEN: '127.0.0.1:0',
      KEYPOST_SMTP_MAX_CONNECTIONS: '1000',
      // Every benchmark session comes from 127.0.0.1.
      KEYPOST_SMTP_MAX_CONNECTIONS_PER_IP: '1000',
      KEYPOST_SMTP_MAX_SIZE: String(2 * 1024 ** 3),
    });

    const scenarios = [
      { name: '1 KB, 20 sessions, reused connections', size: 1024, count: Number(process.env.BENCH_SMALL ?? 10_000), sessions: 20, reuse: true },
      { name: '100 KB, 20 sessions, reused connections', size: 100 * 1024, count: Number(process.env.BENCH_LARGE ?? 2_000), sessions: 20, reuse: true },
      { name: '10 MB, 20 sessions, reused connections', size: 10 * 1024 * 1024, count: Number(process.env.BENCH_10MB ?? 60), sessions: 20, reuse: true },
      { name: '1 KB, 200 sessions, new connection per message', size: 1024, count: Number(process.env.BENCH_NEWCONN ?? 4_000), sessions: 200, reuse: false },
    ];
    const lines: string[] = [];
    for (const s of scenarios) {
      const keypost: Result[] = [];
      const peers: number[] = [];
      const relays: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const stamps = await mintAll(s.count);
        const messages = stamps.map((stamp, i) => message(stamp, i, s.size));
        keypost.push(await drive(gw, db, messages, s.sessions, s.reuse));
        relays.push(await postfixPeer(relay, s.count, s.size, s.sessions, s.reuse));
        peers.push(await peer(sinkPort, s.count, s.size, s.sessions, s.reuse));
        process.stderr.write(
          `  ${s.name} run ${r + 1}: keypost ${keypost[r].msgsPerSec.toFixed(0)} msgs/s (peak RSS ${keypost[r].peakRssMb.toFixed(0)} MB, ` +
            `${keypost[r].cpuMsPerMsg.toFixed(2)} ms CPU/msg, ${keypost[r].xactsPerMsg.toFixed(2)} db transactions/msg), ` +
            `Postfix relay ${relays[r].toFixed(0)} msgs/s, smtp-source → smtp-sink ${peers[r].toFixed(0)} msgs/s\n`,
        );
      }
      const k = median(keypost.map((x) => x.msgsPerSec));
      const p = median(relays);
      lines.push(
        `${s.name.padEnd(48)} keypost ${k.toFixed(0).padStart(6)} msgs/s ` +
          `(peak RSS ${Math.max(...keypost.map((x) => x.peakRssMb)).toFixed(0)} MB, ` +
          `${median(keypost.map((x) => x.cpuMsPerMsg)).toFixed(2)} ms CPU/msg)   ` +
          `Postfix relay ${p.toFixed(0).padStart(6)} msgs/s   keypost / Postfix relay ${(k / p).toFixed(2)}×   ` +
          `smtp-source → smtp-sink ${median(peers).toFixed(0).padStart(6)} msgs/s`,
      );
    }
    const hugeMb = Number(process.env.BENCH_HUGE_MB ?? 1024);
    const huge = hugeMb > 0 ? await hugeMessage(gw, db, hugeMb) : undefined;
    process.stdout.write(`SMTP gateway, median of ${RUNS} runs (stamps ${PRICE} bits, PostgreSQL queue, relay to smtp-sink):\n`);
    for (const l of lines) process.stdout.write(`  ${l}\n`);
    if (huge) {
      process.stdout.write(
        `  one ${hugeMb} MB message: accepted in ${huge.acceptSeconds.toFixed(1)} s, accepted and relayed in ${huge.seconds.toFixed(1)} s; gateway peak RSS ${huge.peakRssMb.toFixed(0)} MB\n`,
      );
    }
    process.stdout.write(`  load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
  } finally {
    await gw?.stop();
    await relay.stop();
    sink.kill();
    await db.close();
    await scratch.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
