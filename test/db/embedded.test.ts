// The embedded database belongs to one process; others join it through its socket, never open it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { socketDirFor, SOCKET_PORT } from '../../src/db/embedded-paths.js';
import { runKeypost, startServe } from '../support/keypost-process.js';

function freshDataDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'kp-embedded-'));
}

test('a second keypost process reaches the running server instead of opening the data dir', async () => {
  const dataDir = freshDataDir();
  const env = { KEYPOST_DATA_DIR: dataDir, DATABASE_URL: '' };
  const server = await startServe(['--only', 'api'], env);
  try {
    assert.equal(readFileSync(path.join(dataDir, 'keypost.lock'), 'utf8'), String(server.child.pid));
    const status = await runKeypost(['migrate', 'status', '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    const rows: { executedAt: string | null }[] = JSON.parse(status.stdout);
    assert.ok(rows.length > 0 && rows.every((r) => r.executedAt), 'sees the migrations serve applied');
  } finally {
    assert.equal(await server.stop('SIGTERM'), 0);
    rmSync(dataDir, { recursive: true, force: true });
  }
  assert.equal(existsSync(path.join(dataDir, 'keypost.lock')), false);
});

test('a lock left by a dead process is taken over', async () => {
  const dataDir = freshDataDir();
  try {
    // PIDs are below 2^22 on Linux; this one cannot be running.
    writeFileSync(path.join(dataDir, 'keypost.lock'), '4194304999');
    const result = await runKeypost(['migrate', 'up'], { KEYPOST_DATA_DIR: dataDir, DATABASE_URL: '' });
    assert.equal(result.code, 0, result.stderr);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a data dir locked by a live process that serves no socket is refused with a clear message', async () => {
  const dataDir = freshDataDir();
  try {
    // This test process is alive and is not a keypost owner: the child must refuse, not open the files.
    writeFileSync(path.join(dataDir, 'keypost.lock'), String(process.pid));
    const result = await runKeypost(['migrate', 'status'], { KEYPOST_DATA_DIR: dataDir, DATABASE_URL: '' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`in use by process ${process.pid}.*DB_DATA_DIR_IN_USE`));
    assert.equal(existsSync(path.join(dataDir, 'pgdata')), false, 'the database files were not created');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** The embedded server's value of a PostgreSQL setting, asked through its socket as a client would. */
async function embeddedSetting(dataDir: string, name: string): Promise<string> {
  const client = new pg.Client({ host: socketDirFor(dataDir), port: SOCKET_PORT, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    const { rows } = await client.query<{ value: string }>('select current_setting($1) as value', [name]);
    return rows[0].value;
  } finally {
    await client.end();
  }
}

test('the embedded database runs with 16 MB of shared buffers, from the template and after a restart', async () => {
  // PostgreSQL's default 128 MB are all touched at start: about 110 MB of RSS before any work.
  const dataDir = freshDataDir();
  const env = { KEYPOST_DATA_DIR: dataDir, DATABASE_URL: '' };
  try {
    for (const start of ['first start', 'restart']) {
      const server = await startServe(['--only', 'api'], env);
      try {
        assert.equal(await embeddedSetting(dataDir, 'shared_buffers'), '16MB', start);
      } finally {
        assert.equal(await server.stop('SIGTERM'), 0);
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
