// The DNS listener as a component: serves UDP and TCP on one port from pre-encoded snapshots, which
// it builds from the read model of what is published (src/published/). It reads nothing from the
// database itself: the model reads the change log and hands over the changed addresses, this
// re-encodes only their names, swaps the snapshot set atomically and notifies secondaries.
import { randomBytes } from 'node:crypto';
import type { Component, Services } from '../lifecycle.js';
import { CookieSecret } from './cookies.js';
import { ResponseRateLimiter } from './rrl.js';
import { DenialLimiter, dividedAmong } from './denial-limiter.js';
import { formatAddress } from '../lifecycle.js';
import type { ZoneUpdate } from '../published/model.js';
import { createCounters, registerDnsMetrics, registerWorkerMetrics, rowCounters, sharedCounterRows, totalCounters, type DnsCounters } from './counters.js';
import { startDnsWorkers, type DnsWorkerPool } from './dns-workers.js';
import { SharedRateLimiter, sharedRrlData } from './shared-rrl.js';
import { tcpDescriptor, udpDescriptor } from './socket-fd.js';
import { ZoneMirror } from './zone-mirror.js';
import { Notifier } from './notify.js';
import { listenTcp, tcpCapsAmong, type TcpListener } from './tcp-listener.js';
import { replyMessages, tcpReply } from './tcp-reply.js';
import { listenUdp, type UdpListener } from './udp-listener.js';
import { encodeZoneUpdate, type EncodedZone, type SignerSource } from './zone-encoding.js';
import { zoneSignerFor, type ZoneSigner } from './dnssec/zone-signer.js';
import { nameKey } from '../protocol/dns-wire.js';
import { createTransferRefresh } from './dnssec/transfer-refresh.js';
import { createRolloverClock } from './dnssec/rollover-clock.js';
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
  /** Resolves once every worker thread serves the snapshots served now (immediately without). */
  workersSynced(): Promise<void>;
}

export function createDnsComponent(services: Services, options: DnsComponentOptions = {}): DnsComponent {
  const log = services.log.child({ component: 'dns' });
  const published = services.published;
  const defaults: PolicyDefaults = { powBits: published.defaultPowBits, apiUrl: services.config.directory.publicUrl };
  const dnsConfig = services.config.dns;
  const workerCount = dnsConfig.workers;
  // With workers, every thread counts in its own row of shared memory: this thread bumps row 0,
  // so no increment races a worker's, and reads the totals.
  const counterRows = workerCount > 0 ? sharedCounterRows(workerCount + 1) : undefined;
  const totals = counterRows ? totalCounters(counterRows) : createCounters();
  const counters = counterRows ? rowCounters(counterRows, 0) : totals;
  // With workers, the accounts are shared, so a prefix has one allowance whichever thread answers.
  const rrlData = workerCount > 0 && dnsConfig.rrl.responsesPerSecond > 0 ? sharedRrlData(dnsConfig.rrl) : undefined;
  const rrl = rrlData ? new SharedRateLimiter(rrlData) : dnsConfig.rrl.responsesPerSecond > 0 ? new ResponseRateLimiter(dnsConfig.rrl) : undefined;
  // Each thread answering UDP admits fresh denials from its share of the budgets (denial-limiter.ts
  // says why shares, not shared buckets). With workers this thread answers only what they hand
  // back (TSIG, ZONEMD), and keeps a worker's share for those.
  const denialLimits = dividedAmong(dnsConfig.denials, Math.max(1, workerCount));
  const denials = new DenialLimiter(denialLimits, counters);
  // Without a configured secret each process makes its own: cookies then hold for that node only.
  const cookieSecret = dnsConfig.cookieSecret ? Buffer.from(dnsConfig.cookieSecret, 'hex') : randomBytes(16);
  const cookies = new CookieSecret(cookieSecret);
  // Every thread that accepts on the TCP listener (this one and each worker) holds its own limits:
  // a share of the overall cap, the per-address cap whole (tcp-listener.ts tcpCapsAmong).
  const tcpOptions = tcpCapsAmong({ ...dnsConfig.tcp, idleTimeoutMs: options.tcpIdleTimeoutMs ?? dnsConfig.tcp.idleTimeoutMs }, workerCount + 1);
  const mirror = new ZoneMirror();
  let workers: DnsWorkerPool | undefined;
  const notifier = new Notifier(log, { retryDelayMs: options.notifyRetryDelayMs });
  const encoded = new Map<string, EncodedZone>();
  // Moves the serial of idle signed zones so their secondaries transfer fresh signatures.
  const transferRefresh = createTransferRefresh({ db: services.database.db, log });
  // Takes the steps of key rollovers whose waits have passed.
  const rolloverClock = createRolloverClock({ db: services.database.db, log, timing: dnsConfig.rollover });
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
      if (prev) workers?.post(mirror.remove(prev.snapshot.apexKey));
      return;
    }
    encoded.set(update.name, next);
    current = withZone(current, next.snapshot);
    workers?.post(mirror.update(next.snapshot));
    // A new base (a full read, a fold) or a new signer means every name is new to the signer.
    const whole = !prev || prev.snapshot.base !== next.snapshot.base || prev.snapshot.signer !== next.snapshot.signer;
    presigner.schedule(next.snapshot, whole);
    // A rollover started or confirmed anywhere moves the serial: time its next step now. Only
    // zones whose keys changed or that are rolling, so publishes elsewhere cost no check.
    const rolling = (update.served?.zone.signingKeys.length ?? 0) > 1;
    if (next.snapshot.signer && (rolling || prev?.snapshot.signer !== next.snapshot.signer)) rolloverClock.poke();
    logPublication(update, prev !== undefined);
    if (!prev || prev.snapshot.serial !== next.snapshot.serial) {
      log.debug({ zone: update.name, serial: next.snapshot.serial, addresses: next.snapshot.addressCount }, 'zone loaded');
      notifier.notify(next.snapshot);
    }
  }

  /** Workers read this signer's signatures over shared nodes instead of each making them. */
  function shareWithWorkers(signer: ZoneSigner): void {
    signer.shareSignatures();
    const apexKey = nameKey(signer.apex);
    signer.onSharedMoved = (data) => workers?.post({ kind: 'signatures', apexKey, keyIdentity: signer.keyIdentity, data });
  }

  async function bind(host: string, port: number): Promise<void> {
    // Port 0: take whatever UDP port the OS offers and claim the same TCP port; retry on a clash.
    for (let attempt = 0; ; attempt++) {
      const u = await listenUdp(host, port, snapshots, counters, log, { rrl, cookies, denials }, workerCount === 0);
      const boundPort = u.socket.address().port;
      try {
        tcp = await listenTcp({ host, port: boundPort }, snapshots, counters, log, { ...tcpOptions, cookies });
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
    counters: totals,
    snapshots,
    // Workers presign the apex names and change layers themselves (dns-worker.ts), and receive the
    // shared signatures of a finished pass before they answer the sync.
    signingIdle: async () => {
      await presigner.idle();
      await workers?.sync(true);
    },
    workersSynced: () => workers?.sync() ?? Promise.resolve(),
    async start() {
      registerDnsMetrics(services.metrics, totals, snapshots);
      const box = openSecretBox(services.config.secrets);
      signers = (zone, previous) => {
        try {
          const signer = zoneSignerFor(zone, box, previous, undefined, counters);
          if (signer && signer !== previous && workerCount > 0) shareWithWorkers(signer);
          return signer;
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
      if (workerCount > 0) {
        const socket = udp!.socket;
        workers = await startDnsWorkers({
          count: workerCount,
          fd: udpDescriptor(socket),
          family: socket.address().family === 'IPv6' ? 'udp6' : 'udp4',
          counterRows: counterRows!,
          cookieSecret,
          rrl: rrlData,
          denials: denialLimits,
          logLevel: log.level,
          initial: mirror.everything(current),
          tcpFd: tcpDescriptor(tcp!.server),
          tcp: tcpOptions,
          handOff: (msg, rinfo) => udp!.respond(msg, rinfo),
          respondTcp: (msg, remote) => {
            const reply = tcpReply(snapshots, msg, { transport: 'tcp', remote, cookies });
            if (reply.kind === 'stream' && reply.transfer) counters.transfers++;
            return replyMessages(reply);
          },
          log,
        });
        // Zones that changed while the workers started (apply() posts only once they exist).
        for (const message of mirror.catchUp(current)) workers.post(message);
        // And signatures the signers moved meanwhile (their messages found no workers yet).
        for (const zone of current.zones.values()) {
          const data = zone.signer?.signerKeys().signatures;
          if (data) workers.post({ kind: 'signatures', apexKey: zone.apexKey, keyIdentity: zone.signer!.keyIdentity, data });
        }
        registerWorkerMetrics(services.metrics, counterRows!, workerCount + 1);
      }
      log.info({ zones: current.zones.size }, 'zones loaded');
      serving = true;
      await transferRefresh.start();
      await rolloverClock.start();
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
        // Workers first: they read the socket the loading thread closes.
        await workers?.close();
        await Promise.all([udp?.close(), tcp?.close(), transferRefresh.close(), rolloverClock.close(), presigner.close()]);
      })();
      return closing;
    },
  };
}
