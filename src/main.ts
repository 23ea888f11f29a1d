// Composition root: builds the database, logger, metrics and change feed, then the listeners the
// caller asked for, and stops everything in reverse order.
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { openDatabase, type DatabaseHandle } from './db/connect.js';
import { migrateToLatest } from './db/migrate.js';
import { createChangeFeed } from './db/change-feed.js';
import { createPublishedModel } from './published/model.js';
import { createMetrics } from './metrics.js';
import type { Component, Services } from './lifecycle.js';
import { createHttpComponent } from './http/component.js';
import { createOpsComponent } from './http/ops-component.js';
import { createDirectory } from './directory/directory.js';
import { directoryRoutes } from './directory/routes.js';
import { webRoutes } from './web/plugin.js';
import { createDnsComponent } from './dns/component.js';
import { createGatewayComponent } from './gateway/component.js';
import type { SignatureVerifier } from './gateway/protection.js';
import { verifyMessage } from './client/verify.js';
import { explainBindFailure } from './listen-conflict.js';
import { registerServe } from './serve-registry.js';
import { openSecretBox } from './secrets/sealed-box.js';
import { listWorkerFactory } from './lists/list-worker.js';
import { listRoutes } from './lists/list-routes.js';
import { dnsMemberKeys } from './lists/member-keys.js';
import { createTreeHeadSigner } from './transparency/tree-head-signer.js';
import { transparencyRoutes } from './transparency/routes.js';
import { keepTickObjectShape } from './tick-object-shape.js';

export const LISTENERS = ['dns', 'api', 'gateway'] as const;
export type ListenerName = (typeof LISTENERS)[number];

/** One factory per listener; `serve --only` picks among them. */
const FACTORIES: Record<ListenerName, (services: Services) => Component> = {
  dns: (services) => createDnsComponent(services),
  api: (services) => apiComponent(services),
  gateway: (services) =>
    createGatewayComponent(services, {
      verifySignatures: signatureVerifier(services),
      // The mailing lists (src/lists/) take their posts out of the gateway's queue and put the
      // members' copies back in; wired here so the gateway room loads nothing of them.
      listWorker: listWorkerFactory({ openBox: () => openSecretBox(services.config.secrets) }),
    }),
};

/** Per DNS attempt of a signer's lookup at DATA. */
const SIGNER_LOOKUP_TIMEOUT_MS = 5000;

/**
 * How the gateway judges mail for recipients that require signed mail: with `keypost verify`'s
 * verifier (the sender client's library, src/client/verify.ts), wired here so that the gateway room
 * loads nothing of the client. It asks the gateway's resolver (KEYPOST_DNS_RESOLVER), judges keys
 * at the time of DATA, and asks no directory API: the sender's zone names that URL, and the
 * gateway makes no HTTP request a stranger chooses.
 */
function signatureVerifier(services: Services): SignatureVerifier {
  return (raw) =>
    verifyMessage(raw, {
      dns: services.config.gateway.dnsResolver,
      now: services.now(),
      timeoutMs: SIGNER_LOOKUP_TIMEOUT_MS,
      askDirectory: false,
    });
}

/**
 * The HTTP listener: the directory's API and the web pages over one directory (directory.ts), so
 * a page and an API call share the same self-service, lookups and key-check threads. The mailing
 * lists' owner routes (src/lists/) join the directory's, under the same owner tokens and API docs.
 */
function apiComponent(services: Services): Component {
  const directory = createDirectory(services, () => http.app().server.address());
  const lists = listRoutes({
    db: services.database.db,
    now: services.now,
    openBox: () => openSecretBox(services.config.secrets),
    findKey: dnsMemberKeys({ dns: services.config.gateway.dnsResolver }),
  });
  const http = createHttpComponent(services, [directoryRoutes(services, directory, [lists]), webRoutes(services, directory), transparencyRoutes(services)]);
  return http;
}

export interface RunningKeypost {
  services: Services;
  /** Bound address per started listener, e.g. { api: '127.0.0.1:8080' }; `ops` when no api runs. */
  addresses: Partial<Record<ListenerName | 'ops', string>>;
  components: Component[];
  close(): Promise<void>;
}

export interface StartOptions {
  config: Readonly<Config>;
  log: Logger;
  only?: ListenerName[];
  now?: () => Date;
}

export async function startKeypost(options: StartOptions): Promise<RunningKeypost> {
  const { config, log } = options;
  const selected = options.only ?? [...LISTENERS];
  // Before start-up's major collections (migrations, the read model, zone logs): see the module.
  keepTickObjectShape();
  const database: DatabaseHandle = await openDatabase(config.database, { log });
  const started: Component[] = [];
  try {
    const applied = await migrateToLatest(database.db);
    if (applied.length) log.info({ migrations: applied }, 'applied migrations');
    const changeFeed = createChangeFeed(database, log.child({ component: 'change-feed' }));
    const published = createPublishedModel({
      db: database.db,
      changeFeed,
      log: log.child({ component: 'published' }),
      defaultPowBits: config.pow.defaultBits,
    });
    const services: Services = {
      config,
      log,
      database,
      metrics: createMetrics(),
      changeFeed,
      published,
      now: options.now ?? (() => new Date()),
    };
    await changeFeed.start();
    published.start();
    // Every node keeps the zone logs' signed heads current (src/transparency/), whatever it serves.
    const treeHeads = createTreeHeadSigner({
      db: database.db,
      changeFeed,
      openBox: () => openSecretBox(config.secrets),
      log: log.child({ component: 'transparency' }),
      now: services.now,
    });
    await treeHeads.start();
    started.push(treeHeads);
    const addresses: RunningKeypost['addresses'] = {};
    // Every role answers /healthz, /readyz and /metrics: the API serves them itself; a node
    // without it runs the small ops listener on the HTTP address instead.
    const parts: [ListenerName | 'ops', () => Component][] = selected.map((name) => [name, () => FACTORIES[name](services)]);
    if (!selected.includes('api')) parts.push(['ops', () => createOpsComponent(services)]);
    for (const [name, make] of parts) {
      const component = make();
      const bound = await component.start().catch(async (err: unknown) => {
        // start() may have bound part of it (DNS: UDP before TCP); close() releases what it did.
        await component.close().catch(() => undefined);
        throw await explainBindFailure(err, name, config);
      });
      started.push(component);
      if (bound) {
        addresses[name] = bound;
        log.info({ listener: name, address: bound }, `${name} listening on ${bound}`);
      }
    }
    const registration = await registerServe(database.db, addresses as Record<string, string>, log);
    let closing: Promise<void> | undefined;
    return {
      services,
      addresses,
      components: started,
      close() {
        closing ??= (async () => {
          await registration.close().catch((err) => log.warn({ err }, 'could not remove this server from serve_nodes'));
          for (const component of [...started].reverse()) {
            await component.close().catch((err) => log.error({ err, component: component.name }, 'close failed'));
          }
          await published.close();
          await changeFeed.close();
          await database.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    for (const component of started.reverse()) await component.close().catch(() => undefined);
    await database.close();
    throw err;
  }
}
