// A worker that takes its own rows out of the gateway's queue (a hop the relay worker leaves alone,
// see LIST_HOP), built by the composition root so that the gateway room loads nothing of it: the
// mailing lists (src/lists/) are one. It gets what the relay worker has: the queue, the routing of
// recipients, the DNS resolver, and a way to wake the relay for the mail it queues.
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import type { Db } from '../db/database.js';
import type { KeypostResolver } from './keypost-resolver.js';
import type { GatewayMetrics } from './metrics.js';
import type { RecipientDirectory } from './recipients.js';

export interface QueueWorkerDeps {
  db: Db;
  log: Logger;
  metrics: GatewayMetrics;
  gateway: GatewayConfig;
  directory: RecipientDirectory;
  resolver: KeypostResolver;
  /**
   * This gateway's block directory id (block-store.ts), for claimDue. The gateway takes list posts
   * of at most one block, so none is in files, but a claim names the directory like the relay's.
   */
  blocksDir: string;
  now(): Date;
  /** Mail was queued for relaying: deliver it without waiting for the next poll. */
  wakeRelay(): void;
}

export interface QueueWorker {
  start(): void;
  /** Messages for this worker were committed: look now. */
  wake(): void;
  close(): Promise<void>;
}

export type QueueWorkerFactory = (deps: QueueWorkerDeps) => QueueWorker;
