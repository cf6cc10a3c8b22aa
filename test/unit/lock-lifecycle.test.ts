/**
 * FileSecretLocks over a lock's whole life as writers see it: taken, refused, lost, taken over,
 * released, and what each of those leaves on the lock volume.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { type HolderRecord, ownHolderRecord } from '../../agent/broker/lock-holder.js';
import type { FileSecretLocks, HeldLock } from '../../agent/broker/secret-locks.js';
import { leaveLock, lockMaker, lost, MIN_STALE_MS, tempLockDir } from '../helpers/lock-fixture.js';
import { deadHolder, linuxOnly } from '../helpers/lock-holders.js';

/** Writers here never wait: a held lock is refused at once. */
const makeLocks = lockMaker({ waitMs: 0 });

async function outcomeOf(acquiring: Promise<HeldLock>): Promise<HeldLock | SecretError> {
  try {
    return await acquiring;
  } catch (err) {
    if (err instanceof SecretError) return err;
    throw err;
  }
}

/** For the tests that take a held lock away: the lock held here, and whether its loss is noticed. */
async function heldAndWatched(t: Test): Promise<{ locks: FileSecretLocks; held: HeldLock; aborted: Promise<boolean> }> {
  const locks = makeLocks(t, await tempLockDir(t), { staleMs: MIN_STALE_MS });
  const held = await locks.acquire('prod/db');
  return { locks, held, aborted: lost(held) };
}

/** Another writer replaces the lock of `id` with its own, refreshed by a clock an hour ahead. */
async function replaceLock(locks: FileSecretLocks, id: string, record: HolderRecord): Promise<void> {
  await rm(`${locks.lockPath(id)}.lock`, { recursive: true });
  await leaveLock(locks, id, record, -3_600_000);
}

/** Every writer tries for the lock of `id` at the same moment: how many got it, and why the others were refused. */
async function acquireAtOnce(writers: FileSecretLocks[], id: string): Promise<{ holders: number; refusals: string[] }> {
  const outcomes = await Promise.all(writers.map((w) => outcomeOf(w.acquire(id))));
  const refused = outcomes.filter((o) => o instanceof SecretError);
  return { holders: outcomes.length - refused.length, refusals: refused.map((e) => e.code) };
}

t.test('a lock of another host refreshed 5 s ago is still held under the default 10 s staleness', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const locks = makeLocks(t, dir);
  const elsewhere: HolderRecord = { host: 'other-boot/pid:[1]/node-b', boot: 'other-boot', pid: 1, startTime: '1' };
  await leaveLock(locks, 'prod/db', elsewhere, 5000);

  // Act
  const outcome = await outcomeOf(locks.acquire('prod/db'));

  // Assess
  t.equal((outcome as SecretError).code, 'locked');
});

t.test('a write refused because another holds the lock is told which secret, and when to retry', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  await makeLocks(t, dir).acquire('prod/db');

  // Act
  const outcome = await outcomeOf(makeLocks(t, dir).acquire('prod/db'));

  // Assess
  t.ok(outcome instanceof SecretError);
  t.equal((outcome as SecretError).message, "secret 'prod/db' is being written by another caller");
  t.equal((outcome as SecretError).retryAfterMs, 1000);
});

t.test('the wait reported for an acquisition lies within the call, whether it got the lock or not', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const waits: [number, boolean][] = [];
  const locks = makeLocks(t, dir, { waitMs: 50, onAcquire: (ms, ok) => waits.push([ms, ok]) });
  const calls: number[] = [];

  // Act
  for (let attempt = 0; attempt < 2; attempt++) {
    const started = performance.now();
    await outcomeOf(locks.acquire('prod/db'));
    calls.push(performance.now() - started);
  }

  // Assess: the first got the lock, the second waited for it in vain.
  t.same(
    waits.map(([, ok]) => ok),
    [true, false],
  );
  for (const [i, [waited]] of waits.entries()) {
    t.ok(waited >= 0 && waited <= (calls[i] as number), `wait ${i} (${waited} ms) within its call (${calls[i]} ms)`);
  }
});

t.test('a symbolic link planted at a lock’s path is not followed: the write fails as an internal error', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const waits: boolean[] = [];
  const locks = makeLocks(t, dir, { onAcquire: (_ms, ok) => waits.push(ok) });
  await symlink(path.join(dir, 'elsewhere'), `${locks.lockPath('prod/db')}.lock`);

  // Act
  const outcome = await outcomeOf(locks.acquire('prod/db'));

  // Assess
  t.ok(outcome instanceof SecretError);
  t.equal((outcome as SecretError).code, 'internal');
  t.equal((outcome as SecretError).message, "cannot lock secret 'prod/db'");
  t.ok((outcome as SecretError).cause instanceof Error, 'the file system error is kept as the cause');
  t.same(waits, [false]);
  t.notOk((await readdir(dir)).includes('elsewhere'), 'nothing was created through the link');
});

t.test(
  'a lost lock aborts its write with the reason, even with no one listening for lost locks',
  { skip: linuxOnly },
  async (t) => {
    // Prepare
    const { locks, held, aborted } = await heldAndWatched(t);

    // Act: another writer replaces the lock; the holder notices at its next refresh.
    await replaceLock(locks, 'prod/db', ownHolderRecord() as HolderRecord);

    // Assess
    t.equal(await aborted, true);
    const reason = held.signal.reason as SecretError;
    t.ok(reason instanceof SecretError);
    t.equal(reason.code, 'locked');
    t.equal(reason.message, "lock of secret 'prod/db' was lost during the write");
    t.equal((reason.cause as NodeJS.ErrnoException).code, 'ECOMPROMISED');
    await held.release();
  },
);

t.test(
  'after losing a lock to a writer that then died, the next write takes it over at once',
  { skip: linuxOnly },
  async (t) => {
    // Prepare: the lock is taken from this broker by a process that is then killed.
    const { locks, held, aborted } = await heldAndWatched(t);
    await replaceLock(locks, 'prod/db', await deadHolder(t));
    t.equal(await aborted, true, 'the lock was lost');

    // Act
    const again = await locks.acquire('prod/db');
    await held.release();
    await held.release();
    const afterLateReleases = locks.lockedNow('prod/db');
    await again.release();

    // Assess
    t.equal(again.signal.aborted, false);
    t.equal(afterLateReleases, true, 'the lost lock’s late releases leave the new one locked');
    t.equal(locks.lockedNow('prod/db'), false);
  },
);

t.test(
  'after a release, a lock a dead writer then left for the same secret is taken over at once',
  { skip: linuxOnly },
  async (t) => {
    // Prepare
    const dir = await tempLockDir(t);
    const locks = makeLocks(t, dir, { staleMs: 3_600_000 });
    await (await locks.acquire('prod/db')).release();
    await leaveLock(locks, 'prod/db', await deadHolder(t), -3_600_000);

    // Act
    const outcome = await outcomeOf(locks.acquire('prod/db'));

    // Assess
    t.notOk(outcome instanceof SecretError, 'taken over');
    await (outcome as HeldLock).release();
  },
);

t.test('a broker refused a lock, which then took and released it, shows it unlocked at once', async (t) => {
  // Prepare: the refusal made this broker remember the lock as held by another.
  const dir = await tempLockDir(t);
  const other = makeLocks(t, dir);
  const locks = makeLocks(t, dir);
  const held = await other.acquire('prod/db');
  await outcomeOf(locks.acquire('prod/db'));
  const whileOtherHolds = locks.lockedNow('prod/db');
  await held.release();

  // Act
  await (await locks.acquire('prod/db')).release();

  // Assess
  t.equal(whileOtherHolds, true);
  t.equal(locks.lockedNow('prod/db'), false);
});

t.test('a broker with locks taken and its background scan running never keeps its process alive', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const script = fileURLToPath(new URL('../helpers/lock-idle-process.ts', import.meta.url));

  // Act: the process starts locking, takes and releases a lock, and then has nothing left to do.
  const child = spawn(process.execPath, ['--import', '@tapjs/typescript/import', script, dir], {
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), 10_000);
  t.teardown(() => {
    clearTimeout(guard);
    child.kill('SIGKILL');
  });
  const [code, signal] = await once(child, 'exit');

  // Assess
  t.equal(signal, null, 'it was not killed for lingering');
  t.equal(code, 0);
});

t.test('releasing a lock twice leaves a new hold of the same secret in this broker locked', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const locks = makeLocks(t, dir);
  const first = await locks.acquire('prod/db');
  await first.release();
  const second = await locks.acquire('prod/db');

  // Act
  await first.release();

  // Assess
  t.equal(locks.lockedNow('prod/db'), true);
  t.equal(((await outcomeOf(makeLocks(t, dir).acquire('prod/db'))) as SecretError).code, 'locked');
  await second.release();
});

t.test('of several writers taking one free lock at the same moment, one gets it, the others are refused', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const writers = Array.from({ length: 8 }, () => makeLocks(t, dir));

  // Act
  const { holders, refusals } = await acquireAtOnce(writers, 'prod/db');

  // Assess
  t.equal(holders, 1, 'one writer holds the lock');
  t.same(refusals, Array(7).fill('locked'));
});

t.test(
  'of several writers finding one abandoned lock at the same moment, one takes it over',
  { skip: linuxOnly },
  async (t) => {
    // Prepare
    const dir = await tempLockDir(t);
    const writers = Array.from({ length: 8 }, () => makeLocks(t, dir, { staleMs: 3_600_000 }));
    await leaveLock(writers[0] as FileSecretLocks, 'prod/db', await deadHolder(t), -3_600_000);

    // Act
    const { holders, refusals } = await acquireAtOnce(writers, 'prod/db');

    // Assess
    t.equal(holders, 1, 'one writer took the lock over');
    t.same(refusals, Array(7).fill('locked'));
  },
);

t.test('releaseAll also closes this broker’s liveness socket and removes its file', { skip: linuxOnly }, async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const locks = makeLocks(t, dir);
  await locks.acquire('prod/db');
  const whileHeld = (await readdir(dir)).filter((name) => name.startsWith('.holder-'));

  // Act
  await locks.releaseAll();

  // Assess
  t.equal(whileHeld.length, 1);
  t.same(await readdir(dir), []);
});

t.test('a version marker written through one broker is seen by another’s background scan', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const writer = makeLocks(t, dir);
  const reader = makeLocks(t, dir);
  reader.markers?.track('prod/db');
  const seen = new Promise<[string, string | undefined] | undefined>((resolve) => {
    const guard = setTimeout(() => resolve(undefined), 5000);
    reader.markers?.onChange((id, version) => {
      clearTimeout(guard);
      resolve([id, version]);
    });
  });
  reader.start();
  t.teardown(() => reader.stop());

  // Act
  await (await writer.acquire('prod/db')).release();
  await writer.markers?.write('prod/db', '7');

  // Assess
  t.same(await seen, ['prod/db', '7']);
});
