// A Postfix relay for bench:smtp to compare keypost with: a private instance configured in a
// temporary directory (its own main.cf, master.cf, queue and data directories), listening on
// 127.0.0.1 and relaying everything to the benchmark's smtp-sink through its own fsynced queue,
// which is what keypost's gateway does too. It needs root (Postfix's master drops to the postfix
// user itself) and the postfix package; `postfix -c <dir>` runs it beside any system instance.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PostfixRelay {
  port: number;
  /** Messages in the queue (incoming, active, deferred, maildrop, hold). */
  queued(): number;
  stop(): Promise<void>;
}

function postfixUid(): number {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postfix:'));
  if (!line) throw new Error('no postfix user: install the postfix package');
  return Number(line.split(':')[2]);
}

function countFiles(dir: string): number {
  let n = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) n += e.isDirectory() ? countFiles(path.join(dir, e.name)) : 1;
  return n;
}

export async function startPostfixRelay(port: number, sinkPort: number): Promise<PostfixRelay> {
  const root = mkdtempSync(path.join(tmpdir(), 'kp-bench-postfix-'));
  // The postfix user's daemons reach their queue and data directories through this one.
  chmodSync(root, 0o755);
  const etc = path.join(root, 'etc');
  const queue = path.join(root, 'queue');
  const data = path.join(root, 'data');
  for (const d of [etc, queue, data]) mkdirSync(d, { recursive: true });
  chownSync(data, postfixUid(), -1);
  writeFileSync(
    path.join(etc, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${queue}`,
      `data_directory = ${data}`,
      'mail_owner = postfix',
      'setgid_group = postdrop',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'myhostname = relay.bench.test',
      'mydestination =',
      'mynetworks = 127.0.0.0/8',
      `relayhost = [127.0.0.1]:${sinkPort}`,
      'smtpd_relay_restrictions = permit_mynetworks, reject',
      'alias_maps =',
      'alias_database =',
      'local_recipient_maps =',
      'initial_destination_concurrency = 20',
      'in_flow_delay = 0',
      // keypost's limit in the benchmark is above its largest message; so is this one.
      'message_size_limit = 0',
      'mailbox_size_limit = 0',
      `maillog_file = ${root}/maillog`,
      `maillog_file_prefixes = ${root}`,
      '',
    ].join('\n'),
  );
  // The stock master.cf with smtpd on the benchmark's port instead of 25, and postlogd for maillog_file.
  copyFileSync('/etc/postfix/master.cf', path.join(etc, 'master.cf'));
  const master = readFileSync(path.join(etc, 'master.cf'), 'utf8')
    .split('\n')
    .map((l) => (/^smtp\s+inet\s/.test(l) ? `#${l}` : l.replace(/^#postlog/, 'postlog')))
    .join('\n');
  writeFileSync(path.join(etc, 'master.cf'), `${master}\n127.0.0.1:${port} inet n - n - - smtpd\n`);
  await run('postfix', ['-c', etc, 'start']);
  // master binds the listener once it runs; wait for the port.
  const { connect } = await import('node:net');
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (i > 200) throw new Error(`Postfix did not listen on ${port}: ${readFileSync(path.join(root, 'maillog'), 'utf8').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    queued: () => ['incoming', 'active', 'deferred', 'maildrop', 'hold'].reduce((n, d) => n + countFiles(path.join(queue, d)), 0),
    async stop() {
      await run('postfix', ['-c', etc, 'stop']).catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
