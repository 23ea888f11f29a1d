// A lean HTTP client for benchmarks whose load generator shares the machine with the server:
// node:http over a keep-alive agent costs the client a fraction of what fetch() does per request,
// so more of the cores go to the system being measured. Answers are read whole; only what the
// benchmarks look at is kept.
import { Agent, request } from 'node:http';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function keepAliveClient(base: string): (method: string, path: string, options?: { headers?: Record<string, string>; body?: string }) => Promise<Answer> {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  return (method, path, options = {}) =>
    new Promise((resolve, reject) => {
      const body = options.body === undefined ? undefined : Buffer.from(options.body);
      const req = request(new URL(path, base), { method, agent, headers: { ...options.headers, ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
}
