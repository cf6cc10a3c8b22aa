/**
 * A loopback HTTP proxy between the broker and moto that counts the Secrets Manager operations
 * passing through (from X-Amz-Target) and can take the backend down: `reset` resets every
 * connection as it arrives (what a dead endpoint looks like), `hang` reads requests and never
 * answers (a black hole, ended only by the client's own timeout).
 */
import { createServer, type IncomingMessage, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ProxyMode = 'up' | 'reset' | 'hang';

export interface BackendProxy {
  /** `http://127.0.0.1:<port>`: the broker's SECRETS_BROKER_AWS_ENDPOINT. */
  url: string;
  setMode(mode: ProxyMode): void;
  /** Requests seen per operation since the proxy started (reset and hung ones included). */
  counts(): Record<string, number>;
  close(): Promise<void>;
}

export async function startBackendProxy(target: string): Promise<BackendProxy> {
  const upstream = new URL(target);
  const seen: Record<string, number> = {};
  const sockets = new Set<Socket>();
  let mode: ProxyMode = 'up';
  const server = createServer((req, res) => {
    const operation = operationOf(req);
    seen[operation] = (seen[operation] ?? 0) + 1;
    if (mode === 'reset') {
      req.socket.destroy();
      return;
    }
    if (mode === 'hang') {
      req.resume();
      return;
    }
    const outgoing = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    outgoing.once('error', () => req.socket.destroy());
    req.pipe(outgoing);
  });
  server.on('connection', (socket) => {
    if (mode === 'reset') {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setMode: (next) => {
      mode = next;
      // Kept-alive connections would otherwise carry on as if the backend were still there.
      if (next !== 'up') for (const socket of sockets) socket.destroy();
    },
    counts: () => ({ ...seen }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** `GetSecretValue`, `DescribeSecret`, ...: the suffix of the JSON protocol's X-Amz-Target. */
function operationOf(req: IncomingMessage): string {
  const target = req.headers['x-amz-target'];
  return typeof target === 'string' ? target.slice(target.lastIndexOf('.') + 1) : 'other';
}
