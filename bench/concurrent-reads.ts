/**
 * N reads of one path sent at the same instant. The connections are opened first (in batches, so
 * the listen backlog never overflows) and each request is then written on its own connection in
 * one synchronous loop: the server sees all N before the first backend read can finish.
 */
import http from 'node:http';
import net from 'node:net';
import { connectOptions, type Endpoint } from './endpoints.js';

export interface ConcurrentReadsResult {
  /** Count of answers per HTTP status. */
  statuses: Record<string, number>;
  /** Count of answers per X-Cache value (`miss` for every reader that joined the one backend load). */
  xCache: Record<string, number>;
}

const CONNECT_BATCH = 100;

export async function concurrentReads(
  endpoint: Endpoint,
  path: string,
  headers: Record<string, string>,
  count: number,
): Promise<ConcurrentReadsResult> {
  const sockets = await openConnections(endpoint, count);
  try {
    const answers = await Promise.all(sockets.map((socket) => readOn(socket, path, headers)));
    const statuses: Record<string, number> = {};
    const xCache: Record<string, number> = {};
    for (const answer of answers) {
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      xCache[answer.xCache] = (xCache[answer.xCache] ?? 0) + 1;
    }
    return { statuses, xCache };
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

async function openConnections(endpoint: Endpoint, count: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  try {
    while (sockets.length < count) {
      const batch = Math.min(CONNECT_BATCH, count - sockets.length);
      sockets.push(...(await Promise.all(Array.from({ length: batch }, () => connect(endpoint)))));
    }
    return sockets;
  } catch (err) {
    for (const socket of sockets) socket.destroy();
    throw err;
  }
}

/** A Unix socket's accept queue can fill while the server is busy: EAGAIN is retried briefly. */
async function connect(endpoint: Endpoint, attemptsLeft = 50): Promise<net.Socket> {
  try {
    return await connectOnce(endpoint);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || attemptsLeft <= 0) throw err;
    await new Promise((resolve) => setTimeout(resolve, 20));
    return connect(endpoint, attemptsLeft - 1);
  }
}

function connectOnce(endpoint: Endpoint): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const where = connectOptions(endpoint);
    const socket = where.socketPath
      ? net.connect({ path: where.socketPath })
      : net.connect({ host: where.host as string, port: where.port as number });
    socket.once('connect', () => {
      socket.off('error', reject);
      // A reset before the request is written surfaces through the request's own error instead.
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Sends the request synchronously on an already open socket; resolves with its status and X-Cache. */
function readOn(
  socket: net.Socket,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; xCache: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ path, headers, createConnection: () => socket }, (response) => {
      response.resume();
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, xCache: String(response.headers['x-cache'] ?? 'none') }),
      );
      response.on('error', reject);
    });
    request.setTimeout(30_000, () => request.destroy(new Error(`${path} timed out`)));
    request.on('error', reject);
    request.end();
  });
}
