// The gateway's Prometheus metrics: what sessions decided, what relaying achieved, and the queue's
// depth and age (read from the database at scrape time, so every node reports the shared queue).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Db } from '../db/database.js';
import { queueCounts } from './queue-admin.js';

export interface GatewayMetrics {
  connections: Gauge<string>;
  messages: Counter<'outcome'>;
  stampFailures: Counter<'reason'>;
  /** Recipients whose req= the message did not meet, by requirement. */
  protectionRefusals: Counter<'requirement'>;
  deliveries: Counter<'outcome'>;
  /** Sessions and commands refused or closed by an abuse limit, by limit. */
  limitRefusals: Counter<'limit'>;
}

/** `bufferedBytes` reports the message bytes SMTP sessions hold in memory right now. */
export function createGatewayMetrics(registry: Registry, db: Db, bufferedBytes: () => number): GatewayMetrics {
  const connections = new Gauge({ name: 'keypost_gateway_connections', help: 'SMTP connections open now', registers: [registry] });
  const messages = new Counter({
    name: 'keypost_gateway_messages_total',
    help: 'Messages at end of DATA by outcome: accepted (queued), rejected (5xx), deferred (4xx)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const stampFailures = new Counter({
    name: 'keypost_gateway_stamp_failures_total',
    help: 'Recipients refused by the stamp rule, by reason code',
    labelNames: ['reason'],
    registers: [registry],
  });
  const protectionRefusals = new Counter({
    name: 'keypost_gateway_protection_refusals_total',
    help: 'Recipients refused because the message lacked the protection their req= asks (encrypted, signed), by requirement',
    labelNames: ['requirement'],
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'keypost_gateway_deliveries_total',
    help: 'Recipient delivery attempts by outcome: delivered, deferred, bounced, expired, dropped',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const limitRefusals = new Counter({
    name: 'keypost_gateway_limit_refusals_total',
    help: 'Connections and commands refused by an abuse limit: connections-per-ip, line-timeout, auth-connection-failures, auth-address-failures, auth-busy',
    labelNames: ['limit'],
    registers: [registry],
  });
  new Gauge({
    name: 'keypost_gateway_buffered_bytes',
    help: 'Message bytes held in memory by SMTP sessions',
    registers: [registry],
    collect() {
      this.set(bufferedBytes());
    },
  });

  let last: Promise<{ recipients: number; messages: number; due: number; oldest: number }> | undefined;
  let lastAt = 0;
  // One query serves all queue gauges of a scrape.
  const snapshot = () => {
    if (!last || Date.now() - lastAt > 500) {
      lastAt = Date.now();
      last = queueCounts(db)
        .then((c) => ({
          recipients: c.recipients,
          messages: c.messages,
          due: c.due,
          oldest: c.oldestReceivedAt ? (Date.now() - c.oldestReceivedAt.getTime()) / 1000 : 0,
        }))
        .catch(() => ({ recipients: NaN, messages: NaN, due: NaN, oldest: NaN }));
    }
    return last;
  };
  new Gauge({
    name: 'keypost_gateway_queue_messages',
    help: 'Messages in the queue with recipients still to deliver',
    registers: [registry],
    async collect() {
      this.set((await snapshot()).messages);
    },
  });
  new Gauge({
    name: 'keypost_gateway_queue_recipients',
    help: 'Recipients still to deliver',
    registers: [registry],
    async collect() {
      this.set((await snapshot()).recipients);
    },
  });
  new Gauge({
    name: 'keypost_gateway_queue_due_recipients',
    help: 'Recipients due for an attempt now (not deferred, not leased)',
    registers: [registry],
    async collect() {
      this.set((await snapshot()).due);
    },
  });
  new Gauge({
    name: 'keypost_gateway_queue_oldest_seconds',
    help: 'Age of the oldest queued message',
    registers: [registry],
    async collect() {
      this.set((await snapshot()).oldest);
    },
  });
  return { connections, messages, stampFailures, protectionRefusals, deliveries, limitRefusals };
}
