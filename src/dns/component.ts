// The DNS listener as a component: serves UDP and TCP on one port from pre-encoded snapshots, which
// it builds from the read model of what is published (src/published/). It reads nothing from the
// database itself: the model reads the change log and hands over the changed addresses, this
// re-encodes only their names, swaps the snapshot set atomically and notifies secondaries.
import { randomBytes } from 'node:crypto';
import type { Component, Services } from '../lifecycle.js';
import { CookieSecret } from './cookies.js';
import { ResponseRateLimiter } from './rrl.js';
import { DenialLimiter } from './denial-limiter.js';
import { formatAddress } from '../lifecycle.js';
import type { ZoneUpdate } from '../published/model.js';
import { createCounters, registerDnsMetrics, type DnsCounters } from './counters.js';
import { Notifier } from './notify.js';
import { listenTcp, type TcpListener } from './tcp-listener.js';
import { listenUdp, type UdpListener } from './udp-listener.js';
import { encodeZoneUpdate, type EncodedZone, type SignerSource } from './zone-encoding.js';
import { zoneSignerFor } from './dnssec/zone-signer.js';
import { createTransferRefresh } from './dnssec/transfer-refresh.js';
import { Presigner } from './dnssec/presigner.js';
import { openSecretBox } from '../secrets/sealed-box.js';
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
  /** Resolves once background signing has caught up with the snapshots served now. */
  signingIdle(): Promise<void>;
}

export function createDnsComponent(services: Services, options: DnsComponentOptions = {}): DnsComponent {
  const log = services.log.child({ component: 'dns' });
  const published = services.published;
  const defaults: PolicyDefaults = { powBits: published.defaultPowBits, apiUrl: services.config.directory.publicUrl };
  const counters = createCounters();
  const dnsConfig = services.config.dns;
  const rrl = dnsConfig.rrl.responsesPerSecond > 0 ? new ResponseRateLimiter(dnsConfig.rrl) : undefined;
  const denials = new DenialLimiter(dnsConfig.denials);
  // Without a configured secret each process makes its own: cookies then hold for that node only.
  const cookies = new CookieSecret(dnsConfig.cookieSecret ? Buffer.from(dnsConfig.cookieSecret, 'hex') : randomBytes(16));
  const notifier = new Notifier(log, { retryDelayMs: options.notifyRetryDelayMs });
  const encoded = new Map<string, EncodedZone>();
  // Moves the serial of idle signed zones so their secondaries transfer fresh signatures.
  const transferRefresh = createTransferRefresh({ db: services.database.db, log });
  // Signs what a snapshot change brought, off the query path; and hourly every signed zone whole,
  // which makes again the signatures that are due.
  const presigner = new Presigner(log);
  let resignTimer: NodeJS.Timeout | undefined;
  // Signing keys arrive sealed with the zone; this node opens them with its key-encryption key,
  // read (or, on the default path, made) when the component starts.
  let signers: SignerSource | undefined;
  let current: SnapshotSet = emptySnapshotSet();
  let udp: UdpListener | undefined;
  let tcp: TcpListener | undefined;
  let unwatch: (() => void) | undefined;
  let closed = false;
  /** Set once the zones present at start are loaded; publication lines are logged after it. */
  let serving = false;
  let closing: Promise<void> | undefined;

  const snapshots = () => current;

  /**
   * The mail log's lines for what DNS starts or stops answering (README "Logs"): a zone that appears
   * after start, and each address a change names. The zones loaded at start are one summary line.
   */
  function logPublication(update: ZoneUpdate, held: boolean): void {
    if (!serving) return;
    if (!held) {
      log.info({ event: 'published', zone: update.name, serial: update.served?.zone.serial }, 'published');
      return;
    }
    for (const change of update.changes ?? []) {
      if (change.entry) log.info({ event: 'published', zone: update.name, address: change.address, fingerprint: change.entry.fingerprint }, 'published');
      else log.info({ event: 'withdrawn', zone: update.name, address: change.address }, 'withdrawn');
    }
  }

  /** Runs inside the read model's refresh, before any reader sees the new state. */
  function apply(update: ZoneUpdate): void {
    if (closed) return;
    const prev = encoded.get(update.name);
    let next: EncodedZone | null;
    try {
      next = encodeZoneUpdate(prev, update, defaults, signers);
    } catch (err) {
      counters.zoneLoadFailures++;
      log.error({ err, zone: update.name }, 'encoding the zone failed; serving the previous snapshot');
      return;
    }
    counters.zoneLoads++;
    if (!next) {
      if (prev) log.info({ event: 'withdrawn', zone: update.name }, 'withdrawn');
      encoded.delete(update.name);
      current = withoutZone(current, update.name);
      return;
    }
    encoded.set(update.name, next);
    current = withZone(current, next.snapshot);
    // A new base (a full read, a fold) or a new signer means every name is new to the signer.
    const whole = !prev || prev.snapshot.base !== next.snapshot.base || prev.snapshot.signer !== next.snapshot.signer;
    presigner.schedule(next.snapshot, whole);
    logPublication(update, prev !== undefined);
    if (!prev || prev.snapshot.serial !== next.snapshot.serial) {
      log.debug({ zone: update.name, serial: next.snapshot.serial, addresses: next.snapshot.addressCount }, 'zone loaded');
      notifier.notify(next.snapshot);
    }
  }

  async function bind(host: string, port: number): Promise<void> {
    // Port 0: take whatever UDP port the OS offers and claim the same TCP port; retry on a clash.
    for (let attempt = 0; ; attempt++) {
      const u = await listenUdp(host, port, snapshots, counters, log, { rrl, cookies, denials });
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
    signingIdle: () => presigner.idle(),
    async start() {
      registerDnsMetrics(services.metrics, counters, snapshots, denials);
      const box = openSecretBox(services.config.secrets);
      signers = (zone, previous) => {
        try {
          return zoneSignerFor(zone, box, previous, undefined, counters);
        } catch (err) {
          // Keys sealed under another KEYPOST_SECRET_KEY_FILE: the zone is still served, unsigned,
          // so resolvers that do not validate keep working while the operator fixes the file.
          counters.zoneLoadFailures++;
          log.error({ err, zone: zone.name }, 'cannot open the zone signing key; serving the zone unsigned');
          return undefined;
        }
      };
      // Watch first, so every zone read from here on (by anyone) reaches the snapshots.
      unwatch = published.watch(apply);
      await published.loadAll();
      const { host, port } = services.config.listen.dns;
      await bind(host, port);
      log.info({ zones: current.zones.size }, 'zones loaded');
      serving = true;
      await transferRefresh.start();
      resignTimer = setInterval(() => {
        for (const zone of current.zones.values()) presigner.schedule(zone, true);
      }, 3_600_000);
      resignTimer.unref();
      const address = udp!.socket.address();
      return formatAddress(address.address, address.port);
    },
    close() {
      closing ??= (async () => {
        closed = true;
        unwatch?.();
        notifier.close();
        if (resignTimer) clearInterval(resignTimer);
        await Promise.all([udp?.close(), tcp?.close(), transferRefresh.close(), presigner.close()]);
      })();
      return closing;
    },
  };
}
