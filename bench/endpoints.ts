/**
 * Where a server under test listens (its Unix socket or loopback TCP) and the few plain HTTP calls
 * the benchmark makes outside the load generator: seeding, polling /readyz, scraping /metrics.
 */
import http from 'node:http';
import net from 'node:net';

/** One listener of a server under test. */
export type Endpoint = { kind: 'socket'; socketPath: string } | { kind: 'tcp'; host: string; port: number };

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpCall {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs?: number;
  /** Keep-alive agent to reuse connections; a fresh connection per call by default. */
  agent?: http.Agent;
}

/** How the listener shows in tables: `socket` or `tcp`. */
export function listenerName(endpoint: Endpoint): string {
  return endpoint.kind;
}

/** The options autocannon and `http.request` need to reach `endpoint`. */
export function connectOptions(endpoint: Endpoint): { socketPath?: string; host?: string; port?: number } {
  return endpoint.kind === 'socket'
    ? { socketPath: endpoint.socketPath }
    : { host: endpoint.host, port: endpoint.port };
}

/** A base URL for autocannon; with `socketPath` set, only its path part is used. */
export function baseUrl(endpoint: Endpoint): string {
  return endpoint.kind === 'socket' ? 'http://localhost' : `http://${endpoint.host}:${endpoint.port}`;
}

/** One request (on a fresh connection unless `call.agent` is given); the JSON body, if any, is serialised here. */
export function httpCall(endpoint: Endpoint, call: HttpCall): Promise<HttpAnswer> {
  const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
  const headers: Record<string, string> = { ...call.headers };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        ...connectOptions(endpoint),
        method: call.method ?? 'GET',
        path: call.path,
        headers,
        agent: call.agent ?? false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    request.setTimeout(call.timeoutMs ?? 10_000, () => request.destroy(new Error(`${call.path} timed out`)));
    request.on('error', reject);
    request.end(payload);
  });
}

/**
 * Polls `path` until it answers `status`, as a kubelet startup probe would, and resolves with the
 * time it took; connection errors (not listening yet) only mean "poll again".
 */
export async function waitForStatus(
  endpoint: Endpoint,
  path: string,
  status: number,
  timeoutMs: number,
  stillRunning: () => boolean = () => true,
  pollMs = 5,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const answer = await httpCall(endpoint, { path, timeoutMs: 1000 }).catch(() => undefined);
    if (answer?.status === status) return;
    if (!stillRunning()) throw new Error(`the server exited before ${path} answered ${status}`);
    if (performance.now() > deadline) {
      throw new Error(
        `${path} did not answer ${status} within ${timeoutMs} ms (last: ${answer?.status ?? 'no answer'})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** A free loopback port (there is a small window before the child binds it; loopback only). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
