// One Prometheus registry per process; components register their own collectors on it.
import { Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'keypost_' });
  return registry;
}
