/**
 * Binding the apps: the Unix socket on the shared volume, loopback TCP, and the optional health
 * listener. The socket path is checked first: a stale file from a dead broker is removed, while a
 * live broker on it stops this one (two brokers must never share a socket).
 */
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

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
  const address = app.server.address() as net.AddressInfo;
  return net.isIPv6(address.address) ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/**
 * Closes an app gracefully: in-flight requests finish (new ones get 503) until `graceMs`, then the
 * remaining connections are cut so shutdown always ends.
 */
export async function closeGracefully(app: FastifyInstance, graceMs: number): Promise<void> {
  const timer = setTimeout(() => app.server.closeAllConnections(), graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}

/** Removes the socket file if the server left it behind. */
export async function removeSocketFile(socketPath: string): Promise<void> {
  await unlink(socketPath).catch(() => undefined);
}
