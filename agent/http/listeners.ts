/**
 * Binding the apps: the Unix socket on the shared volume, loopback TCP, and the optional health
 * listener. The socket path is checked first: a stale file from a dead broker is removed, while a
 * live broker on it stops this one (two brokers must never share a socket).
 *
 * Fastify allows one `listen()` per instance. The API app listens on the socket itself; loopback
 * TCP is a second `http.Server` over the same app's routing, so routes and schemas are compiled
 * once. That server gets the app's timeouts and client-error answer here, and closes with the app.
 */
import { randomUUID } from 'node:crypto';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { problemBody } from './problem.js';

export class ListenerError extends Error {
  override readonly name = 'ListenerError';
}

/** Makes the socket's directory and clears a stale socket; throws if another process serves on it. */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  await mkdir(path.dirname(socketPath), { recursive: true });
  let stats: Awaited<ReturnType<typeof lstat>>;
  try {
    stats = await lstat(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (stats.isSymbolicLink()) {
    // lstat saw the link itself: a broker never binds, probes or removes through a link.
    throw new ListenerError(`socket path ${socketPath} is a symbolic link; the broker never follows one: remove it`);
  }
  if (!stats.isSocket()) {
    throw new ListenerError(`${socketPath} exists and is not a socket; refusing to replace it`);
  }
  if (await isServing(socketPath)) {
    throw new ListenerError(
      `another process is already serving on ${socketPath}; stop it or choose another socket path`,
    );
  }
  await unlink(socketPath);
}

function isServing(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ path: socketPath });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export async function listenOnSocket(app: FastifyInstance, socketPath: string, mode: string): Promise<void> {
  await prepareSocketPath(socketPath);
  await app.listen({ path: socketPath });
  // Before this chmod the socket has the umask's mode; nothing is told the broker is ready until after it.
  await chmod(socketPath, Number.parseInt(mode, 8));
}

/** Listens on host:port and returns the bound address (port 0 picks a free port). */
export async function listenOnTcp(app: FastifyInstance, host: string, port: number): Promise<string> {
  await app.listen({ host, port });
  return formatAddress(app.server.address() as net.AddressInfo);
}

/** Which listener a connection came through, for the metrics label; unset on the app's own server. */
const LISTENER = Symbol('listener');
type LabelledSocket = net.Socket & { [LISTENER]?: string };

export function listenerOf(socket: net.Socket): string | undefined {
  return (socket as LabelledSocket)[LISTENER];
}

/** Servers that share an app's routing, closed with it by `closeGracefully`. */
const sharedServers = new WeakMap<FastifyInstance, http.Server[]>();

/**
 * Serves `app` on host:port too, through a second server over its routing (after the app's own
 * `listen`). Requests on it are labelled `label` in metrics. Returns the bound address.
 */
export async function listenAlsoOnTcp(
  app: FastifyInstance,
  host: string,
  port: number,
  label: string,
): Promise<string> {
  const own = app.server;
  // What the app's own server runs per request: the app's routing, behind any lane in front of it.
  const [handler] = own.listeners('request') as http.RequestListener[];
  const server = http.createServer({ connectionsCheckingInterval: checkingInterval(own.requestTimeout) }, handler);
  // The same bounds Fastify gave the app's own server.
  server.requestTimeout = own.requestTimeout;
  server.headersTimeout = own.headersTimeout;
  server.keepAliveTimeout = own.keepAliveTimeout;
  server.timeout = own.timeout;
  server.on('clientError', answerClientError);
  server.on('connection', (socket: LabelledSocket) => {
    socket[LISTENER] = label;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  sharedServers.set(app, [...(sharedServers.get(app) ?? []), server]);
  return formatAddress(server.address() as net.AddressInfo);
}

/**
 * Node checks request deadlines on an interval (30 s by default), which bounds how late past its
 * timeout a slow request is cut: check a few times per timeout instead.
 */
export function checkingInterval(requestTimeoutMs: number): number {
  if (requestTimeoutMs <= 0) return 30_000;
  return Math.max(250, Math.min(30_000, Math.floor(requestTimeoutMs / 4)));
}

function formatAddress(address: net.AddressInfo): string {
  return net.isIPv6(address.address) ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/**
 * Closes an app gracefully, with every server sharing its routing: in-flight requests finish (new
 * ones get 503) until `graceMs`, then the remaining connections are cut so shutdown always ends.
 */
export async function closeGracefully(app: FastifyInstance, graceMs: number): Promise<void> {
  const shared = sharedServers.get(app) ?? [];
  const servers = [app.server, ...shared];
  const timer = setTimeout(() => {
    for (const server of servers) server.closeAllConnections();
  }, graceMs);
  try {
    await Promise.all([app.close(), ...shared.map(closeServer)]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops accepting and resolves once every connection has ended (idle ones are closed at once). */
function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** Removes the socket file if the server left it behind. */
export async function removeSocketFile(socketPath: string): Promise<void> {
  await unlink(socketPath).catch(() => undefined);
}

/**
 * Requests Node's HTTP parser refuses (headers or request line too large, malformed) or that did
 * not arrive within the request timeout never reach a route; they still get a problem+json answer,
 * and the connection is closed.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
  const response = (socket as net.Socket & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable || response?.headersSent) {
    socket.destroy();
    return;
  }
  const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const detail = timedOut
    ? 'the request (headers and body) did not arrive within the request timeout'
    : 'malformed request, or request line and headers too large';
  const override = timedOut ? { status: 408, title: 'Request timeout' } : undefined;
  const body = JSON.stringify(problemBody('invalid_request', randomUUID(), detail, override));
  const status = timedOut ? '408 Request Timeout' : '400 Bad Request';
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
