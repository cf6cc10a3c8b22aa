import { mkdir, mkdtemp, rm, utimes } from 'node:fs/promises';
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
