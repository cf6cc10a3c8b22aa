/**
 * The file operations proper-lockfile performs (its `fs` option), extended with the holder record
 * of lock-holder.ts. Every step that changes who holds a lock is one rename, so a process killed
 * at any moment leaves either a complete lock with its record or no lock at all:
 * - create: the record is written into a private temp directory, which is renamed into place;
 * - release: the lock directory is renamed away (the lock is free from that instant), then removed;
 * - takeover: `stat` of someone else's lock whose holder is gone or stale renames it away too, then
 *   answers ENOENT, upon which proper-lockfile creates the lock at once.
 * Staleness is decided here, never by proper-lockfile, whose own stale removal could remove a lock
 * another process had just taken. Renamed-away directories a crash left behind are swept by age.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type HolderRecord,
  isGoneFromThisHost,
  type LivenessSocket,
  newHolderName,
  ownHolderRecord,
  readHolder,
  removeAbandonedSocket,
  removeAbandonedSockets,
} from './lock-holder.js';

type Callback<T = void> = (err: Error | null, value?: T) => void;

/**
 * Names of the short-lived entries beside a lock: lock directories being created, released or
 * taken over, and version markers being written (version-markers.ts).
 */
const TRANSIENT_NAME = /\.(lock|version)\.[0-9a-f]{16}\.(creating|released)$/;
/** Older than this, such a directory was left by a process killed mid-step: no step takes this long. */
const LEFTOVER_AGE_MS = 60_000;

function settle<T>(work: Promise<T>, callback: Callback<T>): void {
  work.then(
    (value) => callback(null, value),
    (err: Error) => callback(err),
  );
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function transientName(lockDir: string, step: 'creating' | 'released'): string {
  return `${lockDir}.${randomBytes(8).toString('hex')}.${step}`;
}

/** Removes what killed processes left in the lock directory `dir`: mid-step directories, liveness sockets. */
export async function sweepLeftovers(dir: string, nowMs = Date.now()): Promise<void> {
  await removeAbandonedSockets(dir);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!TRANSIENT_NAME.test(name)) continue;
    const leftover = path.join(dir, name);
    const info = await stat(leftover).catch(() => undefined);
    if (info && nowMs - info.mtimeMs > LEFTOVER_AGE_MS) await rm(leftover, { recursive: true, force: true });
  }
}

export class HolderAwareLockFs {
  readonly #staleMs: number;
  readonly #liveness: LivenessSocket;
  /** Lock directories this instance created and holds, with the name of their holder record. */
  readonly #held = new Map<string, string>();

  constructor(staleMs: number, liveness: LivenessSocket) {
    this.#staleMs = staleMs;
    this.#liveness = liveness;
  }

  /** Stops treating `lockDir` as held (it was lost to a takeover). */
  forget(lockDir: string): void {
    this.#held.delete(lockDir);
  }

  mkdir = (lockDir: string, callback: Callback): void => settle(this.#create(lockDir), callback);

  stat = (lockDir: string, callback: Callback<unknown>): void => settle(this.#inspect(lockDir), callback);

  utimes = (lockDir: string, atime: Date, mtime: Date, callback: Callback): void =>
    settle(utimes(lockDir, atime, mtime), callback);

  rmdir = (lockDir: string, callback: Callback): void => settle(this.#release(lockDir), callback);

  /** Used by proper-lockfile's exit handler, which must be synchronous. */
  rmdirSync = (lockDir: string): void => {
    const name = this.#held.get(lockDir);
    this.#held.delete(lockDir);
    if (name === undefined) return;
    statSync(path.join(lockDir, name));
    const away = transientName(lockDir, 'released');
    renameSync(lockDir, away);
    rmSync(away, { recursive: true, force: true });
  };

  async #create(lockDir: string): Promise<void> {
    // Opened before the lock exists, so the record names a socket that already accepts.
    const socket = await this.#liveness.path();
    const self = ownHolderRecord() ?? { host: '', boot: '', pid: process.pid, startTime: '' };
    const record: HolderRecord = socket === undefined ? self : { ...self, socket };
    const name = newHolderName();
    const creating = transientName(lockDir, 'creating');
    await mkdir(creating);
    try {
      await writeFile(path.join(creating, name), JSON.stringify(record), { flag: 'wx' });
      // rename replaces an empty directory: a lock of an older broker has no record, so look first.
      if (
        await stat(lockDir).then(
          () => true,
          () => false,
        )
      )
        throw fsError('EEXIST', `${lockDir} is held`);
      await rename(creating, lockDir);
    } catch (err) {
      await rm(creating, { recursive: true, force: true });
      if (errnoCode(err) === 'ENOTEMPTY') throw fsError('EEXIST', `${lockDir} is held`);
      throw err;
    }
    this.#held.set(lockDir, name);
  }

  async #inspect(lockDir: string): Promise<unknown> {
    const stats = await stat(lockDir);
    if (this.#held.has(lockDir)) return stats;
    const holder = await readHolder(lockDir);
    const stale = stats.mtimeMs < Date.now() - this.#staleMs;
    const gone = !stale && holder !== undefined && (await isGoneFromThisHost(holder.record));
    if (!stale && !gone) return stats;
    if (await this.#claim(lockDir, holder?.name)) {
      if (gone && holder && path.dirname(holder.record.socket ?? '') === path.dirname(lockDir)) {
        await removeAbandonedSocket(holder.record);
      }
      throw fsError('ENOENT', `lock ${lockDir} was abandoned and is removed`);
    }
    // Another contender claimed it first: to proper-lockfile, a lock that is held and fresh.
    return { mtime: new Date() };
  }

  /**
   * Takes an abandoned lock away by renaming it; of several contenders only one rename succeeds.
   * True when the lock is gone and may be created anew. Should the directory have been replaced
   * by a new holder's between the look and the rename, it is put back.
   */
  async #claim(lockDir: string, holderName: string | undefined): Promise<boolean> {
    const away = transientName(lockDir, 'released');
    try {
      await rename(lockDir, away);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
    const expected =
      holderName === undefined
        ? (await readHolder(away)) === undefined
        : (await readdir(away).catch(() => [] as string[])).includes(holderName);
    if (!expected) {
      await rename(away, lockDir).catch(() => undefined);
      return false;
    }
    await rm(away, { recursive: true, force: true });
    return true;
  }

  async #release(lockDir: string): Promise<void> {
    const name = this.#held.get(lockDir);
    this.#held.delete(lockDir);
    if (name === undefined) throw fsError('ENOENT', `${lockDir} is not held here`);
    // Still ours? A lock taken over meanwhile carries another record and is not ours to remove.
    await stat(path.join(lockDir, name));
    const away = transientName(lockDir, 'released');
    await rename(lockDir, away);
    // The record is all a lock holds: two removals, no listing (each is a round trip on EFS).
    await rm(path.join(away, name), { force: true });
    await rmdir(away).catch(() => rm(away, { recursive: true, force: true }));
  }
}
