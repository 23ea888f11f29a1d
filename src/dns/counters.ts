// Plain counters bumped on the hot path (a number increment costs nothing); exported to Prometheus
// only when scraped.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SnapshotSet } from './zone-snapshot.js';

export interface DnsCounters {
  udpQueries: number;
  tcpQueries: number;
  dropped: number;
  internalErrors: number;
  transfers: number;
  zoneLoads: number;
  zoneLoadFailures: number;
  /** TCP connections closed to make room for a new one (RFC 7766 §6.2.2). */
  tcpShed: number;
  /** TCP connections refused: a cap was reached and nothing was idle. */
  tcpRefused: number;
  /** DNSSEC signatures made while answering (denials, and RRsets the background had not reached). */
  signaturesOnQuery: number;
  /** DNSSEC signatures made off the query path: after a snapshot change, on refresh, for transfers. */
  signaturesInBackground: number;
  /** Fresh denial signatures admitted on UDP (denial-limiter.ts). */
  denialsAdmitted: number;
  /** UDP queries answered TC=1 because their prefix's denial budget was spent. */
  denialsRefusedPrefix: number;
  /** UDP queries answered TC=1 because the server-wide denial budget was spent. */
  denialsRefusedOverload: number;
}

const FIELDS: readonly (keyof DnsCounters)[] = ['udpQueries', 'tcpQueries', 'dropped', 'internalErrors', 'transfers', 'zoneLoads', 'zoneLoadFailures', 'tcpShed', 'tcpRefused', 'signaturesOnQuery', 'signaturesInBackground', 'denialsAdmitted', 'denialsRefusedPrefix', 'denialsRefusedOverload'];

export function createCounters(): DnsCounters {
  return { udpQueries: 0, tcpQueries: 0, dropped: 0, internalErrors: 0, transfers: 0, zoneLoads: 0, zoneLoadFailures: 0, tcpShed: 0, tcpRefused: 0, signaturesOnQuery: 0, signaturesInBackground: 0, denialsAdmitted: 0, denialsRefusedPrefix: 0, denialsRefusedOverload: 0 };
}

/**
 * Counters of a DNS served by several threads (dns-workers.ts): one row per thread in a
 * SharedArrayBuffer, row 0 for the loading thread. Each thread writes only its own row, so no
 * increment is lost without atomics; the loading thread's totals sum the rows when read.
 */
export function sharedCounterRows(threads: number): SharedArrayBuffer {
  return new SharedArrayBuffer(threads * FIELDS.length * Float64Array.BYTES_PER_ELEMENT);
}

/** The counters one thread bumps: its own row of `rows`. */
export function rowCounters(rows: SharedArrayBuffer, row: number): DnsCounters {
  const cells = new Float64Array(rows, row * FIELDS.length * Float64Array.BYTES_PER_ELEMENT, FIELDS.length);
  const counters = {} as DnsCounters;
  FIELDS.forEach((field, i) => Object.defineProperty(counters, field, { get: () => cells[i], set: (v: number) => (cells[i] = v), enumerable: true }));
  return counters;
}

/**
 * The totals over every row. Writing one (`counters.x++` on the loading thread) changes row 0 so
 * that the total becomes the value written.
 */
export function totalCounters(rows: SharedArrayBuffer): DnsCounters {
  const all = new Float64Array(rows);
  const n = FIELDS.length;
  const total = (i: number) => {
    let sum = 0;
    for (let o = i; o < all.length; o += n) sum += all[o];
    return sum;
  };
  const counters = {} as DnsCounters;
  FIELDS.forEach((field, i) =>
    Object.defineProperty(counters, field, { get: () => total(i), set: (v: number) => (all[i] += v - total(i)), enumerable: true }),
  );
  return counters;
}

/** Per-thread query counts, so /metrics shows that every worker answers. */
export function registerWorkerMetrics(registry: Registry, rows: SharedArrayBuffer, threads: number): void {
  const perThread = Array.from({ length: threads }, (_, row) => rowCounters(rows, row));
  const perThreadCounter = (name: string, help: string, field: 'udpQueries' | 'tcpQueries') => {
    if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
    new Counter({
      name,
      help,
      labelNames: ['worker'],
      registers: [registry],
      collect() {
        this.reset();
        perThread.forEach((c, row) => this.inc({ worker: String(row) }, c[field]));
      },
    });
  };
  perThreadCounter('keypost_dns_worker_udp_queries_total', 'DNS messages received over UDP, by worker thread (0 = the loading thread)', 'udpQueries');
  perThreadCounter('keypost_dns_worker_tcp_queries_total', 'DNS messages received over TCP, by worker thread (0 = the loading thread)', 'tcpQueries');
}

export function registerDnsMetrics(registry: Registry, counters: DnsCounters, snapshots: () => SnapshotSet): void {
  const counter = (name: string, help: string, value: () => number, labels?: Record<string, string>) => {
    const existing = registry.getSingleMetric(name);
    if (existing) registry.removeSingleMetric(name);
    new Counter({
      name,
      help,
      labelNames: labels ? Object.keys(labels) : [],
      registers: [registry],
      collect() {
        this.reset();
        if (labels) this.inc(labels, value());
        else this.inc(value());
      },
    });
  };
  counter('keypost_dns_udp_queries_total', 'DNS messages received over UDP', () => counters.udpQueries);
  counter('keypost_dns_tcp_queries_total', 'DNS messages received over TCP', () => counters.tcpQueries);
  counter('keypost_dns_dropped_total', 'DNS messages dropped without an answer', () => counters.dropped);
  counter('keypost_dns_internal_errors_total', 'DNS messages that failed with an internal error', () => counters.internalErrors);
  counter('keypost_dns_tcp_shed_total', 'idle DNS TCP connections closed to admit a new one', () => counters.tcpShed);
  counter('keypost_dns_tcp_refused_total', 'DNS TCP connections refused at a cap with none idle', () => counters.tcpRefused);
  counter('keypost_dns_transfers_total', 'zone transfers started', () => counters.transfers);
  counter('keypost_dns_query_signatures_total', 'DNSSEC signatures made while answering a query', () => counters.signaturesOnQuery);
  counter('keypost_dns_background_signatures_total', 'DNSSEC signatures made off the query path', () => counters.signaturesInBackground);
  counter('keypost_dns_denials_admitted_total', 'fresh DNSSEC denial signatures admitted on UDP', () => counters.denialsAdmitted);
  const refused = 'keypost_dns_denials_refused_total';
  if (registry.getSingleMetric(refused)) registry.removeSingleMetric(refused);
  new Counter({
    name: refused,
    help: 'UDP queries answered TC=1 because their denial was not cached and a signing budget was spent: per client prefix, or server-wide (overload)',
    labelNames: ['budget'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ budget: 'prefix' }, counters.denialsRefusedPrefix);
      this.inc({ budget: 'overload' }, counters.denialsRefusedOverload);
    },
  });
  counter('keypost_dns_zone_loads_total', 'zone snapshot loads', () => counters.zoneLoads);
  counter('keypost_dns_zone_load_failures_total', 'zone snapshot loads that failed', () => counters.zoneLoadFailures);
  if (registry.getSingleMetric('keypost_dns_zone_serial')) registry.removeSingleMetric('keypost_dns_zone_serial');
  new Gauge({
    name: 'keypost_dns_zone_serial',
    help: 'SOA serial served per zone',
    labelNames: ['zone'],
    registers: [registry],
    collect() {
      this.reset();
      for (const zone of snapshots().zones.values()) this.set({ zone: zone.apex }, zone.serial);
    },
  });
}
