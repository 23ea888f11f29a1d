// Library internals keypost relies on, pinned: where no public API does the job, each test checks
// that the internal still exists with the shape our code assumes, so an upgrade that changes it
// fails here, by name, instead of in production.
//
// - @electric-sql/pglite-socket: src/db/embedded-queue.ts replaces QueryQueueManager's scheduler
//   (it has no option to keep a client's extended-query batch together).
// - smtp-server: src/gateway/smtp-listener.ts finds a session's connection in `server.connections`
//   to send 421 before closing a session over its time limit (no public "send to session").
// - nodemailer's SMTPConnection: src/smtp/smtp-pool.ts reads the public `destroyed` flag (it used the
//   private `_destroyed`); pinned that it is set by the time 'end' is emitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { SMTPServer } from 'smtp-server';
import { serializeClientBatches } from '../src/db/embedded-queue.js';

test('pglite-socket: the server holds a QueryQueueManager with the members embedded-queue.ts replaces', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keypost-pglite-'));
  const db = new PGlite();
  try {
    const server = new PGLiteSocketServer({ db, path: join(dir, '.s.PGSQL.5432') });
    const queue = (server as unknown as { queryQueue: Record<string, unknown> }).queryQueue;
    assert.ok(queue && typeof queue === 'object', 'PGLiteSocketServer#queryQueue');
    assert.ok(Array.isArray(queue.queue), 'queryQueue.queue is the array of pending messages');
    assert.equal(queue.processing, false, 'queryQueue.processing');
    assert.ok('lastHandlerId' in queue, 'queryQueue.lastHandlerId');
    assert.equal(typeof queue.processQueue, 'function', 'queryQueue.processQueue');
    assert.equal(typeof queue.clearTransactionIfNeeded, 'function', 'queryQueue.clearTransactionIfNeeded');
    const inner = queue.db as Record<string, unknown>;
    for (const method of ['isInTransaction', 'runExclusive', 'execProtocolRawStream', 'exec']) {
      assert.equal(typeof inner[method], 'function', `queryQueue.db.${method}`);
    }
    const original = queue.processQueue;
    assert.doesNotThrow(() => serializeClientBatches(server));
    assert.notEqual(queue.processQueue, original, 'the batch-preserving scheduler is installed in its place');
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("smtp-server: server.connections holds each session's connection, whose send() writes a reply", async () => {
  let sent: Promise<void> | undefined;
  const server = new SMTPServer({
    authOptional: true,
    disableReverseLookup: true,
    logger: false,
    onConnect(session, callback) {
      const connections = (server as unknown as { connections: unknown }).connections;
      assert.ok(connections instanceof Set, 'server.connections is a Set');
      const connection = [...(connections as Set<{ id?: unknown; send?: unknown }>)].find((c) => c.id === session.id);
      assert.ok(connection, 'the session is found by its id');
      assert.equal(typeof connection.send, 'function');
      (connection.send as (code: number, text: string) => void)(421, '4.4.2 pinned');
      sent = Promise.resolve();
      callback();
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  try {
    const socket = connect((server.server.address() as AddressInfo).port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('421 4.4.2 pinned\r\n')) resolve();
      });
      socket.on('error', reject);
    });
    assert.ok(sent);
    socket.destroy();
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("nodemailer: SMTPConnection#destroyed is false while open and true once 'end' is emitted", async () => {
  const server = new SMTPServer({ authOptional: true, disableReverseLookup: true, logger: false });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  try {
    const connection = new SMTPConnection({ host: '127.0.0.1', port: (server.server.address() as AddressInfo).port, ignoreTLS: true });
    assert.equal(connection.destroyed, false);
    await new Promise<void>((resolve, reject) => {
      connection.once('error', reject);
      connection.connect(() => resolve());
    });
    assert.equal(connection.destroyed, false, 'connected');
    const ended = new Promise<boolean>((resolve) => connection.once('end', () => resolve(connection.destroyed)));
    connection.quit();
    assert.equal(await ended, true, "destroyed is set when 'end' fires");
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
