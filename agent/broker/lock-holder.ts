/**
 * Who holds a secret lock. The holder writes a small record into the lock directory right after
 * creating it: its host identity, pid, process start time and the path of its liveness socket. A
 * contender reading it can tell a holder on this host that no longer runs, whose lock it takes
 * over at once, from a live holder or one on another host (EFS), which it waits for up to
 * `lock.staleMs`. The record names a process, never a secret.
 *
 * Two checks, for two ways of sharing a host. In the same pid namespace, /proc tells whether the
 * pid still runs and started when the record says (a reused pid started later). Across pid
 * namespaces on one kernel (a restarted container of the same pod: new namespace, same boot) pids
 * mean nothing, so each broker listens on a Unix socket in the lock directory: the kernel refuses
 * connections to it once its process is gone, whatever namespace it ran in.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { isProcessGone, ownProcessIdentity } from '../process-identity.js';

export interface HolderRecord {
  /** Boot id, pid namespace and host name: equal only where this process's pids mean the same processes. */
  host: string;
  /** Boot id alone: equal on one kernel, where a liveness socket can be reached. */
  boot: string;
  pid: number;
  /** Clock ticks from boot to the process's start (/proc/<pid>/stat): a reused pid has another one. */
  startTime: string;
  /** Unix socket the holder listens on while it runs, if it could open one. */
  socket?: string;
}

const HOLDER_PREFIX = 'holder-';
const HOLDER_SUFFIX = '.json';
/** Liveness sockets are hidden files beside the locks. */
const SOCKET_PREFIX = '.holder-';
/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with its terminating NUL). */
const MAX_SOCKET_PATH = 107;
/** Silence from a liveness socket for this long counts as a live holder. */
const PROBE_TIMEOUT_MS = 1000;

/** This process as a lock holder (without its socket); `undefined` where /proc cannot identify it. */
export function ownHolderRecord(): HolderRecord | undefined {
  const self = ownProcessIdentity();
  return (
    self && {
      host: `${self.boot}/${self.pidNamespace}/${self.hostname}`,
      boot: self.boot,
      pid: self.pid,
      startTime: self.startTime,
    }
  );
}

function isHolderRecord(value: unknown): value is HolderRecord {
  const record = value as HolderRecord | null;
  return (
    typeof record?.host === 'string' &&
    typeof record.boot === 'string' &&
    Number.isInteger(record.pid) &&
    typeof record.startTime === 'string' &&
    (record.socket === undefined || typeof record.socket === 'string')
  );
}

/**
 * Whether nothing listens on the holder's socket any more; any doubt counts as alive. A live holder
 * accepts at once (the kernel does, even with its event loop busy), so the timeout only guards
 * against the unforeseen.
 */
function isSocketAbandoned(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ path: socketPath, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT'));
  });
}

/**
 * Whether the holder ran on this kernel and runs no more, as `self` (this process, `undefined`
 * where it cannot be identified) can tell. A holder elsewhere is never judged gone.
 */
export async function isGoneFromThisHost(record: HolderRecord, self: HolderRecord | undefined): Promise<boolean> {
  if (self === undefined || record.boot !== self.boot) return false;
  if (record.host === self.host) return isProcessGone(record.pid, record.startTime);
  return record.socket !== undefined && isSocketAbandoned(record.socket);
}

/** The holder record in a lock directory and its file name, if one is there and readable. */
export async function readHolder(lockDir: string): Promise<{ name: string; record: HolderRecord } | undefined> {
  try {
    const name = (await readdir(lockDir)).find((n) => n.startsWith(HOLDER_PREFIX) && n.endsWith(HOLDER_SUFFIX));
    if (name === undefined) return undefined;
    const record: unknown = JSON.parse(await readFile(path.join(lockDir, name), 'utf8'));
    return isHolderRecord(record) ? { name, record } : undefined;
  } catch {
    return undefined;
  }
}

/** A fresh, unique name for the holder record of one acquisition. */
export function newHolderName(): string {
  return `${HOLDER_PREFIX}${randomBytes(8).toString('hex')}${HOLDER_SUFFIX}`;
}

/**
 * This process's liveness socket in the lock directory, opened on first use and closed by
 * {@link LivenessSocket.close}. It serves nothing: that it accepts connections is the signal.
 */
export class LivenessSocket {
  readonly #dir: string;
  readonly #self: HolderRecord | undefined;
  #listening: Promise<string | undefined> | undefined;
  #server: net.Server | undefined;

  /** `self`: this process as a holder, `undefined` where it cannot be identified (then no socket). */
  constructor(dir: string, self: HolderRecord | undefined) {
    this.#dir = dir;
    this.#self = self;
  }

  /** The socket's path, or `undefined` if none could be opened (the holder then goes stale by time). */
  path(): Promise<string | undefined> {
    this.#listening ??= this.#listen();
    return this.#listening;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#listening = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #listen(): Promise<string | undefined> {
    if (this.#self === undefined) return Promise.resolve(undefined);
    const socketPath = path.resolve(
      this.#dir,
      `${socketPrefix(this.#self.boot)}${randomBytes(8).toString('hex')}.sock`,
    );
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const server = net.createServer((connection) => connection.destroy());
      server.once('error', () => resolve(undefined));
      server.listen(socketPath, () => {
        // Never keeps the process alive by itself.
        server.unref();
        this.#server = server;
        resolve(socketPath);
      });
    });
  }
}

/** Liveness sockets carry their kernel's boot id: only sockets of this kernel can be probed. */
function socketPrefix(boot: string): string {
  return `${SOCKET_PREFIX}${boot.replaceAll('-', '')}-`;
}

/**
 * Removes, among the entries `names` of the lock directory `dir`, the liveness sockets that
 * processes of this kernel left when they were killed. Sockets of other hosts (EFS) refuse every
 * connection from here, so they are never touched; nor is anything where `self` is unidentified.
 */
export async function removeAbandonedSockets(
  dir: string,
  names: readonly string[],
  self: HolderRecord | undefined,
): Promise<void> {
  if (self === undefined) return;
  const prefix = socketPrefix(self.boot);
  for (const name of names) {
    const socketPath = path.join(dir, name);
    if (name.startsWith(prefix) && name.endsWith('.sock') && (await isSocketAbandoned(socketPath))) {
      await unlink(socketPath).catch(() => undefined);
    }
  }
}

/** Removes the socket file an abandoned holder left in the lock directory `dir`, and nothing else. */
export async function removeAbandonedSocket(record: HolderRecord, dir: string): Promise<void> {
  const socket = record.socket;
  if (socket !== undefined && path.dirname(socket) === dir && path.basename(socket).startsWith(SOCKET_PREFIX)) {
    await unlink(socket).catch(() => undefined);
  }
}
