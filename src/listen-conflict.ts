// A listener that cannot bind is a configuration problem: name the variable that chose the
// address, and say when the holder is most likely another keypost (the usual cause: a second
// `keypost serve` started by hand next to the one systemd runs).
import { ConfigError, type Config } from './config.js';

const VARIABLE: Record<string, string> = {
  dns: 'KEYPOST_DNS_LISTEN',
  api: 'KEYPOST_HTTP_LISTEN',
  ops: 'KEYPOST_HTTP_LISTEN',
  gateway: 'KEYPOST_SMTP_LISTEN',
};
const LISTEN_KEY: Record<string, keyof Config['listen']> = { dns: 'dns', api: 'http', ops: 'http', gateway: 'smtp' };

const WHY: Record<string, string> = {
  EADDRINUSE: 'is already in use',
  EACCES: 'needs privileges this process lacks (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
  EADDRNOTAVAIL: 'is not an address of this machine',
};

/** True when something at the HTTP listen address answers /healthz the way keypost does. */
async function keypostAnswersAt(address: Config['listen']['http']): Promise<boolean> {
  if (address.port === 0) return false;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host === '0.0.0.0' ? '127.0.0.1' : address.host;
  try {
    const response = await fetch(`http://${host}:${address.port}/healthz`, { signal: AbortSignal.timeout(1000) });
    const body = (await response.json()) as { status?: unknown };
    return body.status === 'ok';
  } catch {
    return false;
  }
}

/** Turns a bind failure of `listener` into a ConfigError naming its variable; other errors pass through. */
export async function explainBindFailure(
  err: unknown,
  listener: string,
  config: Readonly<Config>,
): Promise<unknown> {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (!code || !WHY[code] || !VARIABLE[listener]) return err;
  const { host, port } = config.listen[LISTEN_KEY[listener]];
  let line = `${VARIABLE[listener]}: ${host.includes(':') ? `[${host}]` : host}:${port} ${WHY[code]}`;
  if (code === 'EADDRINUSE') {
    // Every serve answers /healthz on KEYPOST_HTTP_LISTEN (the API or the ops listener), so a
    // keypost there is the likely holder of its other ports too.
    if (await keypostAnswersAt(config.listen.http)) line += '; another keypost answers on KEYPOST_HTTP_LISTEN and likely holds it';
  }
  return new ConfigError(line);
}
