/**
 * The set-up the lock test files share: a temp lock directory, lock objects over it, and a lock
 * directory left as another holder leaves it. The directories and lock objects made here are
 * removed or released when the test that made them ends.
 */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import type { HolderRecord } from '../../agent/broker/lock-holder.js';
import { FileSecretLocks, type HeldLock, type SecretLockOptions } from '../../agent/broker/secret-locks.js';

/** proper-lockfile's floor: the smallest staleness it accepts (it refreshes at half of it). */
export const MIN_STALE_MS = 2000;

/** A lock directory of its own for one test, removed when the test ends. */
export async function tempLockDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export type MakeLocks = (t: Test, dir: string, options?: Partial<SecretLockOptions>) => FileSecretLocks;

/**
 * Makes lock objects over a directory with a test file's own defaults (staleness 10 s unless they
 * say otherwise); each is released when the test that made it ends.
 */
export function lockMaker(defaults: Pick<SecretLockOptions, 'waitMs'>): MakeLocks {
  return (t, dir, options = {}) => {
    const locks = new FileSecretLocks({ dir, staleMs: 10_000, ...defaults, ...options });
    t.teardown(() => locks.releaseAll());
    return locks;
  };
}

/**
 * Leaves the lock of `id` as its holder left it: created, with its record inside, refreshed `ageMs`
 * ago (negative: a clock ahead of this one, so it never goes stale while the test runs).
 */
export async function leaveLock(locks: FileSecretLocks, id: string, record: HolderRecord, ageMs = 0): Promise<string> {
  const lockDir = `${locks.lockPath(id)}.lock`;
  await mkdir(lockDir);
  await writeFile(`${lockDir}/holder-0123456789abcdef.json`, JSON.stringify(record));
  const at = new Date(Date.now() - ageMs);
  await utimes(lockDir, at, at);
  return lockDir;
}

/** Resolves once the held lock's signal aborts (it is found lost at its next refresh, about 1 s). */
export function lost(held: HeldLock): Promise<boolean> {
  return new Promise((resolve) => {
    const guard = setTimeout(() => resolve(false), 5 * MIN_STALE_MS);
    held.signal.addEventListener('abort', () => {
      clearTimeout(guard);
      resolve(true);
    });
  });
}
