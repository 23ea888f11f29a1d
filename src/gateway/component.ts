// The gateway as a keypost component: the SMTP listener (stamp check, durable queue) and the relay
// worker, started and stopped together. Several gateway processes can share one PostgreSQL queue.
import type { Component, Services } from '../lifecycle.js';
import { createMintPool, type MintPool } from '../pow/mint.js';
import { createSpentStampPurger, type SpentStampPurger } from '../pow/purger.js';
import { createAcceptor, type Acceptor } from './acceptor.js';
import { AuthLimits } from './auth-limits.js';
import { loadAuthUsers } from './auth-users.js';
import { BufferBudget } from './data-reader.js';
import { BlockStore } from './block-store.js';
import { queuedIds } from './queue-store.js';
import { createKeypostResolver, type KeypostResolver } from './keypost-resolver.js';
import { createGatewayMetrics } from './metrics.js';
import { parseNetworks } from './networks.js';
import { parseRelayDomains } from './next-hop.js';
import { createRecipientDirectory, type RecipientDirectory } from './recipients.js';
import { RelayWorker } from './relay-worker.js';
import { SessionPolicy } from './session-policy.js';
import type { SignatureVerifier } from './protection.js';
import { createSmtpListener, type SmtpListener } from './smtp-listener.js';
import type { QueueWorker, QueueWorkerFactory } from './queue-worker.js';

export interface GatewayOptions {
  /** Checks the signatures of mail for recipients that require signed mail (req=signed). */
  verifySignatures: SignatureVerifier;
  /** Replaces the DNS resolver (submission lookups, MX); tests point it at their own server. */
  resolver?: KeypostResolver;
  /** The mailing lists' worker (src/lists/), which takes the posts queued for LIST_HOP. */
  listWorker?: QueueWorkerFactory;
}

export interface GatewayComponent extends Component {
  /** The relay worker, when this node relays (KEYPOST_RELAY_ENABLED). */
  relay(): RelayWorker | undefined;
  /** The list worker, when the composition root gave one. */
  lists(): QueueWorker | undefined;
}

export function createGatewayComponent(services: Services, options: GatewayOptions): GatewayComponent {
  const { config, database } = services;
  const gateway = config.gateway;
  const log = services.log.child({ component: 'gateway' });
  let listener: SmtpListener | undefined;
  let relay: RelayWorker | undefined;
  let lists: QueueWorker | undefined;
  let acceptor: Acceptor | undefined;
  let directory: RecipientDirectory | undefined;
  let purger: SpentStampPurger | undefined;
  let mintPool: MintPool | undefined;
  let closing: Promise<void> | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;

  return {
    name: 'gateway',
    relay: () => relay,
    lists: () => lists,
    async start() {
      // Configuration mistakes surface here, before anything listens.
      const relayDomains = parseRelayDomains(gateway.relayDomains);
      const exemptNetworks = parseNetworks(gateway.exemptNetworks);
      const authUsers = loadAuthUsers(gateway.authUsersFile);
      const budget = new BufferBudget(gateway.maxBufferedBytes);
      const metrics = createGatewayMetrics(services.metrics, database.db, () => budget.inUse);
      // Block files without a queue row are what a crash left (mid-DATA, or after a delivery
      // and before its files went): removed before anything listens, then now and then for the
      // files of messages an operator deleted (`keypost queue delete`).
      const blocks = await BlockStore.open(config.database.dataDir);
      const sweep = async () => {
        const removed = await blocks.sweep((ids) => queuedIds(database.db, ids));
        if (removed) log.info({ files: removed }, 'removed block files of messages no longer queued');
      };
      await sweep();
      sweepTimer = setInterval(() => void sweep().catch((err) => log.warn({ err }, 'block sweep failed')), 10 * 60_000);
      sweepTimer.unref();
      directory = createRecipientDirectory({
        published: services.published,
        relayDomains,
        smarthost: gateway.smarthost,
      });
      const resolver = options.resolver ?? createKeypostResolver({ server: gateway.dnsResolver, defaultBits: config.pow.defaultBits });
      if (gateway.relay.enabled) {
        // Threads start at the first stamp, or now where AUTH users may submit; they stay warm.
        mintPool = createMintPool();
        if (authUsers.enabled) mintPool.warm();
        relay = new RelayWorker({
          db: database.db,
          log: log.child({ part: 'relay' }),
          metrics,
          gateway,
          directory,
          resolver,
          mintPool,
          blocks,
          now: services.now,
        });
      }
      lists = options.listWorker?.({
        db: database.db,
        log: log.child({ part: 'lists' }),
        metrics,
        gateway,
        directory,
        resolver,
        blocksDir: blocks.id,
        now: services.now,
        wakeRelay: () => relay?.wake(),
      });
      acceptor = createAcceptor({
        db: database.db,
        log,
        onCommitted: () => {
          relay?.wake();
          lists?.wake();
        },
      });
      const policy = new SessionPolicy({
        gateway,
        pow: config.pow,
        directory,
        resolver,
        exemptNetworks,
        authUsers,
        authLimits: new AuthLimits(gateway.auth),
        acceptor,
        verifySignatures: options.verifySignatures,
        budget,
        blocks,
        metrics,
        log,
        now: services.now,
      });
      listener = createSmtpListener({ config: gateway, policy, metrics, authEnabled: authUsers.enabled, log });
      const bound = await listener.listen(config.listen.smtp);
      relay?.start();
      lists?.start();
      // Spent stamps are kept only until the stamps expire; any node may purge (it is idempotent).
      purger = createSpentStampPurger({ db: database.db, log, now: services.now });
      await purger.start();
      return bound;
    },
    close() {
      closing ??= (async () => {
        clearInterval(sweepTimer);
        await purger?.close();
        // Stop taking sessions, let messages in DATA commit, then stop relaying.
        await listener?.close();
        await acceptor?.drain();
        await lists?.close();
        await relay?.close();
        mintPool?.close();
        directory?.close();
      })();
      return closing;
    },
  };
}
