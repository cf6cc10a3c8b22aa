import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { LockVolumeView } from '../../agent/broker/lock-volume-view.js';
import { FileSecretLocks } from '../../agent/broker/secret-locks.js';

async function lockDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-view-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a scan sees the fresh locks of the volume, and not the stale ones of dead holders', async (t) => {
  // Prepare
  const dir = await lockDir(t);
  await mkdir(path.join(dir, 'aaa.lock'));
  await mkdir(path.join(dir, 'bbb.lock'));
  const anHourAgo = new Date(Date.now() - 3_600_000);
  await utimes(path.join(dir, 'bbb.lock'), anHourAgo, anHourAgo);
  const view = new LockVolumeView({ dir, staleMs: 10_000, intervalMs: 60_000 });

  // Act
  await view.scan();

  // Assess
  t.equal(view.has('aaa'), true);
  t.equal(view.has('bbb'), false, 'a lock not refreshed within staleMs is not held');
  t.equal(view.size, 1);
});

t.test('a missing lock directory means no lock is held anywhere', async (t) => {
  // Prepare
  const dir = await lockDir(t);
  const view = new LockVolumeView({ dir: path.join(dir, 'not-yet'), staleMs: 10_000, intervalMs: 60_000 });

  // Act
  await view.scan();

  // Assess
  t.equal(view.size, 0);
});

t.test("a read sees another process's lock after the next scan, from memory", async (t) => {
  // Prepare
  const dir = await lockDir(t);
  const reader = new FileSecretLocks({ dir, waitMs: 0, staleMs: 10_000 });
  const writer = new FileSecretLocks({ dir, waitMs: 0, staleMs: 10_000 });
  reader.start();
  t.teardown(() => reader.stop());
  const before = reader.lockedNow('prod/db');

  // Act
  const held = await writer.acquire('prod/db');
  let seen = false;
  for (let i = 0; i < 100 && !seen; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    seen = reader.lockedNow('prod/db');
  }
  await held.release();

  // Assess
  t.equal(before, false);
  t.equal(seen, true, 'the background scan picked the lock up');
  t.equal(reader.lockedNow('other'), false, 'other ids stay unlocked');
});

t.test('a lock this process holds is locked at once, and unlocked at once when released', async (t) => {
  // Prepare
  const dir = await lockDir(t);
  const locks = new FileSecretLocks({ dir, waitMs: 0, staleMs: 10_000 });
  locks.start();
  t.teardown(() => locks.stop());

  // Act
  const held = await locks.acquire('a');
  const whileHeld = locks.lockedNow('a');
  await held.release();
  const afterRelease = locks.lockedNow('a');

  // Assess
  t.equal(whileHeld, true);
  t.equal(afterRelease, false);
});

t.test('a refused acquire marks the lock held at once, before any scan', async (t) => {
  // Prepare
  const dir = await lockDir(t);
  const holder = new FileSecretLocks({ dir, waitMs: 0, staleMs: 10_000 });
  const other = new FileSecretLocks({ dir, waitMs: 0, staleMs: 10_000 });
  const held = await holder.acquire('a');
  t.teardown(() => held.release());

  // Act
  await other.acquire('a').catch(() => undefined);

  // Assess
  t.equal(other.lockedNow('a'), true);
});

t.test('a lock this process meets while a scan runs stays held after that scan, until the next', async (t) => {
  // Prepare: nothing on the volume, so the scan itself sees no lock.
  const dir = await lockDir(t);
  const view = new LockVolumeView({ dir, staleMs: 10_000, intervalMs: 60_000 });

  // Act
  const scanning = view.scan();
  view.noteHeld('aaa');
  await scanning;
  const afterThatScan = view.has('aaa');
  await view.scan();
  const afterTheNext = view.has('aaa');

  // Assess
  t.equal(afterThatScan, true, 'what this process learned is newer than what the scan read');
  t.equal(afterTheNext, false, 'a later scan is newer still');
});

t.test('a lock this process releases while a scan runs stays released after that scan', async (t) => {
  // Prepare: the lock is still on disk when the scan reads the directory.
  const dir = await lockDir(t);
  await mkdir(path.join(dir, 'aaa.lock'));
  const view = new LockVolumeView({ dir, staleMs: 10_000, intervalMs: 60_000 });
  await view.scan();

  // Act
  const scanning = view.scan();
  view.noteReleased('aaa');
  await scanning;

  // Assess
  t.equal(view.has('aaa'), false);
});

t.test('what this process notes between scans shows at once, and the next scan replaces it', async (t) => {
  // Prepare
  const dir = await lockDir(t);
  await mkdir(path.join(dir, 'aaa.lock'));
  const view = new LockVolumeView({ dir, staleMs: 10_000, intervalMs: 60_000 });
  await view.scan();

  // Act
  view.noteReleased('aaa');
  view.noteHeld('bbb');
  const noted = [view.has('aaa'), view.has('bbb')];
  await view.scan();
  const scanned = [view.has('aaa'), view.has('bbb')];

  // Assess
  t.same(noted, [false, true]);
  t.same(scanned, [true, false], 'the volume says aaa is held and bbb is not');
});

t.test('only lock directories count as locks; the whole listing goes to the version markers', async (t) => {
  // Prepare
  const dir = await lockDir(t);
  await mkdir(path.join(dir, 'aaa.lock'));
  await writeFile(path.join(dir, 'aaa.version'), '3');
  await writeFile(path.join(dir, '.holder-x.sock'), '');
  const listings: string[][] = [];
  const view = new LockVolumeView({
    dir,
    staleMs: 10_000,
    intervalMs: 60_000,
    onListing: async (names) => void listings.push([...names].sort()),
  });

  // Act
  await view.scan();

  // Assess
  t.equal(view.size, 1);
  t.equal(view.has('aaa'), true);
  t.same(listings, [['.holder-x.sock', 'aaa.lock', 'aaa.version']]);
});

t.test('a missing lock directory passes an empty listing on', async (t) => {
  // Prepare
  const dir = await lockDir(t);
  const listings: (readonly string[])[] = [];
  const view = new LockVolumeView({
    dir: path.join(dir, 'not-yet'),
    staleMs: 10_000,
    intervalMs: 60_000,
    onListing: async (names) => void listings.push(names),
  });

  // Act
  await view.scan();

  // Assess
  t.same(listings, [[]]);
});

t.test('a lock refreshed exactly staleMs ago still counts as held', async (t) => {
  // Prepare: whole seconds, so that the file time compares exactly.
  const dir = await lockDir(t);
  const refreshed = new Date(1_700_000_000_000);
  await mkdir(path.join(dir, 'aaa.lock'));
  await utimes(path.join(dir, 'aaa.lock'), refreshed, refreshed);
  const atLimit = new LockVolumeView({
    dir,
    staleMs: 10_000,
    intervalMs: 60_000,
    now: () => refreshed.getTime() + 10_000,
  });
  const pastLimit = new LockVolumeView({
    dir,
    staleMs: 10_000,
    intervalMs: 60_000,
    now: () => refreshed.getTime() + 10_001,
  });

  // Act
  await atLimit.scan();
  await pastLimit.scan();

  // Assess
  t.equal(atLimit.has('aaa'), true);
  t.equal(pastLimit.has('aaa'), false);
});

t.test('an entry named like a lock that cannot be inspected counts as not held, and the scan completes', async (t) => {
  // Prepare: a dangling symbolic link, as a lock removed between the listing and its look-up appears.
  const dir = await lockDir(t);
  await symlink(path.join(dir, 'nowhere'), path.join(dir, 'aaa.lock'));
  await mkdir(path.join(dir, 'bbb.lock'));
  const view = new LockVolumeView({ dir, staleMs: 10_000, intervalMs: 60_000 });

  // Act
  await view.scan();

  // Assess
  t.equal(view.has('aaa'), false);
  t.equal(view.has('bbb'), true);
});

t.test('a view stopped and started again scans again at once', async (t) => {
  // Prepare: an interval far longer than the test, so only start() itself scans.
  const dir = await lockDir(t);
  const listings: (() => void)[] = [];
  const view = new LockVolumeView({
    dir,
    staleMs: 10_000,
    intervalMs: 3_600_000,
    onListing: async () => void listings.shift()?.(),
  });
  t.teardown(() => view.stop());
  /** Resolves true at the next listing, false if none comes within a generous bound. */
  const nextListing = () =>
    new Promise<boolean>((resolve) => {
      const guard = setTimeout(() => resolve(false), 5000);
      listings.push(() => {
        clearTimeout(guard);
        resolve(true);
      });
    });

  // Act
  const first = nextListing();
  view.start();
  const firstListed = await first;
  // Let that scan finish (its last steps are promise callbacks), so the restart cannot share it.
  await new Promise((resolve) => setImmediate(resolve));
  view.stop();
  const second = nextListing();
  view.start();
  const secondListed = await second;

  // Assess
  t.equal(firstListed, true);
  t.equal(secondListed, true);
});
