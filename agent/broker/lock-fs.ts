/**
 * The file operations proper-lockfile performs (its `fs` option), extended with the holder record
 * of lock-holder.ts: `mkdir` writes it into a new lock, `rmdir` removes it on release, and `stat`
 * of someone else's lock answers "gone" (ENOENT, upon which proper-lockfile creates the lock at
 * once) after claiming a lock whose holder is gone or stale. Staleness is decided here, never by
 * proper-lockfile, whose own stale removal could remove a lock another process had just taken.
 */
import { rmdirSync, rmSync } from 'node:fs';
import { mkdir, rm, rmdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type HolderRecord,
  isGoneFromThisHost,
  type LivenessSocket,
  newHolderName,
  ownHolderRecord,
  readHolder,
  removeAbandonedSocket,
} from './lock-holder.js';

type Callback<T = void> = (err: Error | null, value?: T) => void;

function settle<T>(work: Promise<T>, callback: Callback<T>): void {
  work.then(
    (value) => callback(null, value),
    (err: Error) => callback(err),
  );
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * Removes the lock directory of a holder judged gone. Claiming is by the holder record's own file
 * name, unique to that acquisition: of several contenders only one unlinks it, and none can remove
 * a lock someone created since. True when the directory is gone and may be created anew.
 */
async function claimAbandoned(lockDir: string, holderName: string | undefined): Promise<boolean> {
  if (holderName !== undefined) {
    try {
      await unlink(path.join(lockDir, holderName));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
  }
  try {
    await rmdir(lockDir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return true;
    if (errnoCode(err) === 'ENOTEMPTY') return false;
    throw err;
  }
  return true;
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

  rmdir = (lockDir: string, callback: Callback): void => settle(this.#remove(lockDir), callback);

  /** Used by proper-lockfile's exit handler, which must be synchronous. */
  rmdirSync = (lockDir: string): void => {
    const name = this.#held.get(lockDir);
    this.#held.delete(lockDir);
    if (name !== undefined) rmSync(path.join(lockDir, name), { force: true });
    rmdirSync(lockDir);
  };

  async #create(lockDir: string): Promise<void> {
    // Opened before the lock exists, so the record names a socket that already accepts.
    const socket = await this.#liveness.path();
    await mkdir(lockDir);
    const name = newHolderName();
    const self = ownHolderRecord() ?? { host: '', boot: '', pid: process.pid, startTime: '' };
    const record: HolderRecord = socket === undefined ? self : { ...self, socket };
    try {
      await writeFile(path.join(lockDir, name), JSON.stringify(record), { flag: 'wx' });
    } catch (err) {
      await rmdir(lockDir).catch(() => undefined);
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
    if (await claimAbandoned(lockDir, holder?.name)) {
      if (gone && holder && path.dirname(holder.record.socket ?? '') === path.dirname(lockDir)) {
        await removeAbandonedSocket(holder.record);
      }
      throw Object.assign(new Error(`lock ${lockDir} was abandoned and is removed`), { code: 'ENOENT' });
    }
    // Another contender claimed it first: to proper-lockfile, a lock that is held and fresh.
    return { mtime: new Date() };
  }

  async #remove(lockDir: string): Promise<void> {
    const name = this.#held.get(lockDir);
    this.#held.delete(lockDir);
    if (name !== undefined) await rm(path.join(lockDir, name), { force: true });
    await rmdir(lockDir);
  }
}
