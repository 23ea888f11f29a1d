// Every long-lived part (listener, worker, feed) is a factory returning this shape, so the
// composition root can start and stop them uniformly. close() drains and is safe to call twice.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/connect.js';
import type { ChangeFeed } from './db/change-feed.js';
import type { PublishedModel } from './published/model.js';

export interface Component {
  readonly name: string;
  /** Starts the component; a listener resolves with the address it actually bound. */
  start(): Promise<string | void>;
  close(): Promise<void>;
}

/** What the composition root hands every component factory. */
export interface Services {
  config: Readonly<Config>;
  log: Logger;
  database: DatabaseHandle;
  metrics: Registry;
  changeFeed: ChangeFeed;
  /** The read model of what is published; DNS, the directory and the gateway read only this. */
  published: PublishedModel;
  /** Injected clock so tests can move time; seconds are derived from it. */
  now(): Date;
}

/** Formats a bound socket address the way the README's configuration writes listen addresses: host:port, [v6]:port. */
export function formatAddress(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
