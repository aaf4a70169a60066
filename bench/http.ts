import http from 'node:http';
import { nowMs } from './stats.js';

/**
 * A minimal keep-alive HTTP/1.1 client on node:http. Unlike global fetch it can pick the source
 * address: each simulated user gets its own loopback address (127.x.y.z), as each phone has its
 * own IP in production, so that the server's per-IP rate limits apply per user and not to the
 * whole benchmark.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256 });

export interface HttpResult {
  status: number;
  text: string;
  /** wall time of the request, milliseconds */
  ms: number;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** source address to connect from (any 127.0.0.0/8 address works on loopback) */
  localAddress?: string;
  timeoutMs?: number;
}

export function request(url: string, opts: RequestOptions = {}): Promise<HttpResult> {
  const u = new URL(url);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
  const started = nowMs();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: opts.method ?? 'GET',
        headers,
        agent,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ms: nowMs() - started }));
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`timeout: ${opts.method ?? 'GET'} ${u.pathname}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** JSON request; throws with the status and body when the status is not the expected one. */
export async function json<T>(
  url: string,
  opts: { method?: string; body?: unknown; token?: string; localAddress?: string; expect?: number } = {},
): Promise<{ body: T; ms: number }> {
  const headers: Record<string, string> = {};
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await request(url, {
    method: opts.method ?? 'GET',
    headers,
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
  if (res.status !== (opts.expect ?? 200)) {
    throw new Error(`${opts.method ?? 'GET'} ${new URL(url).pathname}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
  }
  return { body: (res.text ? JSON.parse(res.text) : undefined) as T, ms: res.ms };
}

/** A distinct loopback source address per (group, index): 127.group.hi.lo, lo in 1..250. */
export function userAddress(group: number, index: number): string {
  return `127.${group}.${Math.floor(index / 250)}.${(index % 250) + 1}`;
}

export function closeClient(): void {
  agent.destroy();
}
