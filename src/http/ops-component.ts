// The operations listener of a node that does not run the directory API (`serve --only dns` or
// `--only gateway`): the same app without directory routes, so /healthz, /readyz and /metrics
// answer on KEYPOST_HTTP_LISTEN for every role. A load balancer or Prometheus then treats a DNS or
// gateway node like an API node.
import type { Component, Services } from '../lifecycle.js';
import { createHttpComponent } from './component.js';

export function createOpsComponent(services: Services): Component {
  const http = createHttpComponent(services, []);
  return { name: 'ops', start: () => http.start(), close: () => http.close() };
}
