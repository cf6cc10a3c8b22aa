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
  readHolder,
  removeAbandonedSocket,
  removeAbandonedSockets,
} from './lock-holder.js';

type Callback<T = void> = (err: Error | null, value?: T) => void;

/** The steps whose short-lived entries sit beside a lock (version-markers.ts writes `creating` ones too). */
const CREATING = 'creating';
const RELEASED = 'released';
/**
 * Names of the short-lived entries beside a lock: lock directories being created, released or
 * taken over, and version markers being written (version-markers.ts).
 */
const TRANSIENT_NAME = new RegExp(`\\.(lock|version)\\.[0-9a-f]{16}\\.(${CREATING}|${RELEASED})$`);
/** Older than this, such a directory was left by a process killed mid-step: no step takes this long. */
const LEFTOVER_AGE_MS = 60_000;

function settle<T>(work: Promise<T>, callback: Callback<T>): void {
  work.then(
    (value) => callback(null, value),
    (err: Error) => callback(err),
  );
}

/** An error proper-lockfile acts on by its code alone; it never reaches a caller. */
function fsError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

function transientName(lockDir: string, step: typeof CREATING | typeof RELEASED): string {
  return `${lockDir}.${randomBytes(8).toString('hex')}.${step}`;
}

/**
 * Removes what killed processes left in the lock directory `dir`: mid-step directories older than
 * LEFTOVER_AGE_MS, and the liveness sockets of processes of this kernel (`self`) that are gone.
 */
export async function sweepLeftovers(dir: string, self: HolderRecord | undefined, nowMs = Date.now()): Promise<void> {
  const names = await readdir(dir);
  await removeAbandonedSockets(dir, names, self);
  for (const name of names) {
    if (!TRANSIENT_NAME.test(name)) continue;
    const leftover = path.join(dir, name);
    const info = await stat(leftover).catch(() => undefined);
    // `force`: another broker starting at the same moment may be sweeping the same leftovers.
    if (info && nowMs - info.mtimeMs > LEFTOVER_AGE_MS) await rm(leftover, { recursive: true, force: true });
  }
}

export interface HolderAwareLockFsOptions {
  /** A lock not refreshed for this long is taken over whoever holds it (proper-lockfile's own figure). */
  staleMs: number;
  liveness: LivenessSocket;
  /** This process as a holder; `undefined` where it cannot be identified (its records then name the pid alone). */
  self: HolderRecord | undefined;
  /** Wall clock, in milliseconds: lock directories carry wall-clock mtimes. */
  now?: () => number;
}

export class HolderAwareLockFs {
  readonly #staleMs: number;
  readonly #liveness: LivenessSocket;
  readonly #self: HolderRecord | undefined;
  readonly #now: () => number;
  /** Lock directories this instance created and holds, with the name of their holder record. */
  readonly #held = new Map<string, string>();

  constructor(options: HolderAwareLockFsOptions) {
    this.#staleMs = options.staleMs;
    this.#liveness = options.liveness;
    this.#self = options.self;
    this.#now = options.now ?? Date.now;
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

  /** Used by proper-lockfile's exit handler, which must be synchronous: the process ends after it. */
  rmdirSync = (lockDir: string): void => {
    const name = this.#held.get(lockDir);
    if (name === undefined) return;
    statSync(path.join(lockDir, name));
    const away = transientName(lockDir, RELEASED);
    renameSync(lockDir, away);
    rmSync(away, { recursive: true });
  };

  async #create(lockDir: string): Promise<void> {
    // Opened before the lock exists, so the record names a socket that already accepts.
    const socket = await this.#liveness.path();
    const self = this.#self ?? { host: '', boot: '', pid: process.pid, startTime: '' };
    const record: HolderRecord = { ...self, socket };
    const name = newHolderName();
    // A fresh directory of a random name: nothing else can be in it.
    const creating = transientName(lockDir, CREATING);
    await mkdir(creating);
    try {
      await writeFile(path.join(creating, name), JSON.stringify(record));
      // rename replaces an empty directory: a lock of an older broker has no record, so look first.
      if (await stat(lockDir).catch(() => undefined)) throw fsError('EEXIST');
      await rename(creating, lockDir);
    } catch (err) {
      await rm(creating, { recursive: true });
      // Another writer's lock appeared between the look and the rename.
      if ((err as NodeJS.ErrnoException).code === 'ENOTEMPTY') throw fsError('EEXIST');
      throw err;
    }
    this.#held.set(lockDir, name);
  }

  async #inspect(lockDir: string): Promise<unknown> {
    const stats = await stat(lockDir);
    if (this.#held.has(lockDir)) return stats;
    const holder = await readHolder(lockDir);
    const stale = stats.mtimeMs < this.#now() - this.#staleMs;
    const gone = !stale && holder !== undefined && (await isGoneFromThisHost(holder.record, this.#self));
    if (!stale && !gone) return stats;
    if (!(await this.#claim(lockDir, holder?.name))) {
      // Replaced by a new holder's lock meanwhile: to proper-lockfile, a lock that is held and fresh.
      return { mtime: new Date() };
    }
    if (gone) await removeAbandonedSocket(holder!.record, path.dirname(lockDir));
    throw fsError('ENOENT');
  }

  /**
   * Takes an abandoned lock away by renaming it; of several contenders only one rename succeeds,
   * the others fail with ENOENT, upon which proper-lockfile tries to create the lock anew (and one
   * of those attempts wins). True when the lock is gone and may be created anew; should the
   * directory have been replaced by a new holder's between the look and the rename, it is put back.
   */
  async #claim(lockDir: string, holderName: string | undefined): Promise<boolean> {
    const away = transientName(lockDir, RELEASED);
    await rename(lockDir, away);
    const expected =
      holderName === undefined
        ? (await readHolder(away)) === undefined
        : (await readdir(away).catch(() => [] as string[])).includes(holderName);
    if (!expected) {
      await rename(away, lockDir).catch(() => undefined);
      return false;
    }
    await rm(away, { recursive: true });
    return true;
  }

  async #release(lockDir: string): Promise<void> {
    const name = this.#held.get(lockDir);
    this.#held.delete(lockDir);
    // Not ours (proper-lockfile removing a lock it judged stale): to proper-lockfile, already gone.
    if (name === undefined) throw fsError('ENOENT');
    // Still ours? A lock taken over meanwhile carries another record and is not ours to remove.
    await stat(path.join(lockDir, name));
    const away = transientName(lockDir, RELEASED);
    await rename(lockDir, away);
    // The record is all a lock holds: two removals, no listing (each is a round trip on EFS).
    // Should anything else be in it, the directory stays for the sweep.
    await rm(path.join(away, name));
    await rmdir(away);
  }
}
