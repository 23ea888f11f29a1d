// The DNS listener as a component: loads every zone, serves UDP and TCP on one port, rebuilds a
// zone when the change feed names it, swaps the snapshot set atomically, and notifies secondaries.
import { randomBytes } from 'node:crypto';
import type { Component, Services } from '../lifecycle.js';
import { CookieSecret } from './cookies.js';
import { ResponseRateLimiter } from './rrl.js';
import { formatAddress } from '../lifecycle.js';
import { createCounters, registerDnsMetrics, type DnsCounters } from './counters.js';
import { Notifier } from './notify.js';
import { listenTcp, type TcpListener } from './tcp-listener.js';
import { listenUdp, type UdpListener } from './udp-listener.js';
import { listZones, loadZone, pruneChangeLog, type LoadedZone } from './zone-loader.js';
import { emptySnapshotSet, withZone, withoutZone, type SnapshotSet } from './zone-snapshot.js';
import type { PolicyDefaults } from './zone-records.js';

export interface DnsComponentOptions {
  /** Overrides the configured idle timeout (tests). */
  tcpIdleTimeoutMs?: number;
  notifyRetryDelayMs?: number;
}

export interface DnsComponent extends Component {
  /** The snapshot set being served right now. */
  snapshots(): SnapshotSet;
  readonly counters: DnsCounters;
}

const PRUNE_INTERVAL_MS = 10 * 60 * 1000;
const RETRY_AFTER_FAILURE_MS = 1000;
/**
 * After a refresh, changes that arrive within this window are gathered into the next one. The
 * first change after a quiet period is loaded at once; under a stream of publishes (each with its
 * own NOTIFY) this bounds the work to a few refreshes a second, well inside the one-second budget
 * for a publish to show.
 */
const REFRESH_GATHER_MS = 100;

interface ZoneState {
  loaded?: LoadedZone;
  running?: Promise<void>;
  again: boolean;
  /** Callers waiting for the next attempt to finish, whatever its outcome. */
  waiters: (() => void)[];
}

export function createDnsComponent(services: Services, options: DnsComponentOptions = {}): DnsComponent {
  const log = services.log.child({ component: 'dns' });
  const db = services.database.db;
  const defaults: PolicyDefaults = { powBits: services.config.pow.defaultBits, apiUrl: services.config.directory.publicUrl };
  const counters = createCounters();
  const dnsConfig = services.config.dns;
  const rrl = dnsConfig.rrl.responsesPerSecond > 0 ? new ResponseRateLimiter(dnsConfig.rrl) : undefined;
  // Without a configured secret each process makes its own: cookies then hold for that node only.
  const cookies = new CookieSecret(dnsConfig.cookieSecret ? Buffer.from(dnsConfig.cookieSecret, 'hex') : randomBytes(16));
  const notifier = new Notifier(log, { retryDelayMs: options.notifyRetryDelayMs });
  const zones = new Map<string, ZoneState>();
  let current: SnapshotSet = emptySnapshotSet();
  let udp: UdpListener | undefined;
  let tcp: TcpListener | undefined;
  let unsubscribe: (() => void) | undefined;
  let pruneTimer: NodeJS.Timeout | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;

  const snapshots = () => current;

  async function refreshOnce(zone: string, state: ZoneState): Promise<void> {
    const before = state.loaded?.snapshot;
    const loaded = await loadZone(db, zone, state.loaded, defaults);
    counters.zoneLoads++;
    if (closed) return;
    if (!loaded) {
      if (state.loaded) log.info({ zone }, 'zone removed');
      state.loaded = undefined;
      current = withoutZone(current, zone);
      return;
    }
    state.loaded = loaded;
    if (loaded.snapshot === before) return;
    current = withZone(current, loaded.snapshot);
    if (!before || before.serial !== loaded.snapshot.serial) {
      log.debug({ zone, serial: loaded.snapshot.serial, addresses: loaded.snapshot.addressCount }, 'zone loaded');
      notifier.notify(loaded.snapshot);
    }
  }

  /**
   * Coalesces change events: one refresh runs per zone, and one more follows if events came in.
   * Resolves when the next attempt has finished; a failing zone keeps retrying in the background
   * without holding up the caller (or the start of the server).
   */
  function schedule(zone: string): Promise<void> {
    let state = zones.get(zone);
    if (!state) zones.set(zone, (state = { again: false, waiters: [] }));
    const s = state;
    const attempted = new Promise<void>((resolve) => s.waiters.push(resolve));
    if (s.running) {
      s.again = true;
      return attempted;
    }
    s.running = (async () => {
      do {
        s.again = false;
        const settle = () => s.waiters.splice(0).forEach((resolve) => resolve());
        try {
          await refreshOnce(zone, s);
          settle();
          if (s.loaded && !closed) await new Promise((r) => setTimeout(r, REFRESH_GATHER_MS));
        } catch (err) {
          counters.zoneLoadFailures++;
          log.warn({ err, zone }, 'zone refresh failed; retrying');
          settle();
          if (closed) break;
          await new Promise((r) => setTimeout(r, RETRY_AFTER_FAILURE_MS));
          s.again = true;
        }
      } while (s.again && !closed);
      s.running = undefined;
      s.waiters.splice(0).forEach((resolve) => resolve());
    })();
    return attempted;
  }

  async function bind(host: string, port: number): Promise<void> {
    // Port 0: take whatever UDP port the OS offers and claim the same TCP port; retry on a clash.
    for (let attempt = 0; ; attempt++) {
      const u = await listenUdp(host, port, snapshots, counters, log, { rrl, cookies });
      const boundPort = u.socket.address().port;
      try {
        tcp = await listenTcp(host, boundPort, snapshots, counters, log, {
          ...dnsConfig.tcp,
          idleTimeoutMs: options.tcpIdleTimeoutMs ?? dnsConfig.tcp.idleTimeoutMs,
          cookies,
        });
        udp = u;
        return;
      } catch (err) {
        await u.close();
        if (port !== 0 || attempt >= 20 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
  }

  return {
    name: 'dns',
    counters,
    snapshots,
    async start() {
      registerDnsMetrics(services.metrics, counters, snapshots);
      // Subscribe first so no change between the initial load and the subscription is lost.
      unsubscribe = services.changeFeed.onZoneChange((zone) => void schedule(zone));
      const names = await listZones(db);
      await Promise.all(names.map((zone) => schedule(zone)));
      const { host, port } = services.config.listen.dns;
      await bind(host, port);
      pruneTimer = setInterval(() => {
        pruneChangeLog(db).catch((err) => log.warn({ err }, 'pruning the DNS change log failed'));
      }, PRUNE_INTERVAL_MS);
      pruneTimer.unref();
      log.info({ zones: current.zones.size }, 'zones loaded');
      const address = udp!.socket.address();
      return formatAddress(address.address, address.port);
    },
    close() {
      closing ??= (async () => {
        closed = true;
        unsubscribe?.();
        if (pruneTimer) clearInterval(pruneTimer);
        notifier.close();
        await Promise.all([udp?.close(), tcp?.close()]);
        await Promise.all([...zones.values()].map((s) => s.running));
      })();
      return closing;
    },
  };
}
