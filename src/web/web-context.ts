// What every page module of the web room gets from the plugin (plugin.ts).
import type { Directory } from '../directory/directory.js';
import type { Services } from '../lifecycle.js';

export interface WebContext {
  services: Services;
  directory: Directory;
  /** Route options that give a write the API's per-client rate limit. */
  writeLimit: { rateLimit: { max: number; timeWindow: number } };
}
