/**
 * Who holds a secret lock. The holder writes a small record into the lock directory right after
 * creating it: its host identity, pid and process start time. A contender reading it can tell a
 * holder on this host that no longer runs (its pid is gone, or reused by a process that started
 * at another time), whose lock it takes over at once, from a live holder or one on another host
 * (EFS), which it waits for up to `lock.staleMs`. The record names a process, never a secret.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync, rmdirSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, rmdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface HolderRecord {
  /** Boot id, pid namespace and host name: equal only where this process's pids mean the same processes. */
  host: string;
  pid: number;
  /** Clock ticks from boot to the process's start (/proc/<pid>/stat): a reused pid has another one. */
  startTime: string;
}

const HOLDER_PREFIX = 'holder-';
const HOLDER_SUFFIX = '.json';

/** State and start time of a process from the text of its /proc/<pid>/stat. */
function parseProcStat(text: string): { state: string; startTime: string } {
  // The command name may hold spaces and parentheses: the fields that follow start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] as string, startTime: fields[19] as string };
}

function readOwnRecord(): HolderRecord | undefined {
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidNamespace = readlinkSync('/proc/self/ns/pid');
    const { startTime } = parseProcStat(readFileSync('/proc/self/stat', 'utf8'));
    return { host: `${bootId}/${pidNamespace}/${os.hostname()}`, pid: process.pid, startTime };
  } catch {
    // No /proc (not Linux): liveness cannot be told, so locks go stale by time alone.
    return undefined;
  }
}

let own: HolderRecord | null | undefined;

/** This process as a lock holder; `undefined` where /proc cannot identify it. */
export function ownHolderRecord(): HolderRecord | undefined {
  if (own === undefined) own = readOwnRecord() ?? null;
  return own ?? undefined;
}

function isHolderRecord(value: unknown): value is HolderRecord {
  const record = value as HolderRecord | null;
  return typeof record?.host === 'string' && Number.isInteger(record.pid) && typeof record.startTime === 'string';
}

/** Whether the holder ran on this host (same boot, same pid namespace) and runs no more. */
export async function isGoneFromThisHost(record: HolderRecord): Promise<boolean> {
  const self = ownHolderRecord();
  if (self === undefined || record.host !== self.host) return false;
  if (record.pid === self.pid) return record.startTime !== self.startTime;
  let text: string;
  try {
    text = await readFile(`/proc/${record.pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  const { state, startTime } = parseProcStat(text);
  // A killed process whose parent has not reaped it yet is a zombie: it holds nothing any more.
  return state === 'Z' || state === 'X' || startTime !== record.startTime;
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

type Callback<T = void> = (err: Error | null, value?: T) => void;

function settle<T>(work: Promise<T>, callback: Callback<T>): void {
  work.then(
    (value) => callback(null, value),
    (err: Error) => callback(err),
  );
}

/**
 * The file operations proper-lockfile performs (its `fs` option), extended with the holder record:
 * `mkdir` writes it into a new lock, `rmdir` removes it on release, and `stat` of someone else's
 * lock answers "gone" (ENOENT, upon which proper-lockfile creates the lock at once) after
 * claiming a lock whose holder is gone or stale. Staleness is decided here, never by
 * proper-lockfile, whose own stale removal could remove a lock another process had just taken.
 */
export class HolderAwareLockFs {
  readonly #staleMs: number;
  /** Lock directories this instance created and holds, with the name of their holder record. */
  readonly #held = new Map<string, string>();

  constructor(staleMs: number) {
    this.#staleMs = staleMs;
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
    await mkdir(lockDir);
    const name = `${HOLDER_PREFIX}${randomBytes(8).toString('hex')}${HOLDER_SUFFIX}`;
    const record = ownHolderRecord() ?? { host: '', pid: process.pid, startTime: '' };
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
    if (!stale && (holder === undefined || !(await isGoneFromThisHost(holder.record)))) return stats;
    if (await claimAbandoned(lockDir, holder?.name)) {
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
