import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { type HolderRecord, ownHolderRecord } from '../../agent/broker/lock-holder.js';
import type { FileSecretLocks } from '../../agent/broker/secret-locks.js';
import { leaveLock, lockMaker, lost, MIN_STALE_MS, tempLockDir } from '../helpers/lock-fixture.js';
import {
  deadHolder,
  leaveDeadSocket,
  linuxOnly,
  listenAt,
  otherContainer,
  startOtherProcess,
} from '../helpers/lock-holders.js';

/** Writers here wait a little for a held lock, as a broker does, unless a test says otherwise. */
const makeLocks = lockMaker({ waitMs: 100 });

/** Whether a writer of another broker sharing the lock directory is refused the lock right now. */
async function refusedElsewhere(t: Test, dir: string, id: string): Promise<boolean> {
  try {
    const held = await makeLocks(t, dir, { waitMs: 0 }).acquire(id);
    await held.release();
    return false;
  } catch (err) {
    if (err instanceof SecretError && err.code === 'locked') return true;
    throw err;
  }
}

async function acquireError(locks: FileSecretLocks, id: string): Promise<SecretError> {
  try {
    const held = await locks.acquire(id);
    await held.release();
  } catch (err) {
    if (err instanceof SecretError) return err;
    throw err;
  }
  throw new Error(`acquiring ${id} was expected to fail`);
}

t.test(
  'a lock whose holder on this host was killed is taken over at once, without waiting for staleness',
  { skip: linuxOnly },
  async (t) => {
    // Prepare: a holder that was SIGKILLed while holding the lock; staleness is an hour away.
    const dir = await tempLockDir(t);
    const locks = makeLocks(t, dir, { waitMs: 0, staleMs: 3_600_000 });
    await leaveLock(locks, 'prod/db', await deadHolder(t));

    // Act: waitMs 0, so the first attempt must get the lock.
    const held = await locks.acquire('prod/db');

    // Assess
    t.equal(locks.lockedNow('prod/db'), true);
    t.equal(await refusedElsewhere(t, dir, 'prod/db'), true, 'the lock is now this writer’s');
    await held.release();
  },
);

t.test(
  'a lock whose holder pid now belongs to a process started at another time is taken over at once',
  { skip: linuxOnly },
  async (t) => {
    // Prepare: the pid runs, but the record's start time is not that process's: the pid was reused.
    const locks = makeLocks(t, await tempLockDir(t), { waitMs: 0, staleMs: 3_600_000 });
    const { record } = await startOtherProcess(t);
    await leaveLock(locks, 'prod/db', { ...record, startTime: '1' });

    // Act
    const held = await locks.acquire('prod/db');

    // Assess
    t.equal(held.signal.aborted, false);
    await held.release();
  },
);

t.test('a lock whose holder on this host still runs is not taken over', { skip: linuxOnly }, async (t) => {
  // Prepare
  const locks = makeLocks(t, await tempLockDir(t), { waitMs: 0, staleMs: 3_600_000 });
  const { record } = await startOtherProcess(t);
  await leaveLock(locks, 'prod/db', record);

  // Act
  const err = await acquireError(locks, 'prod/db');

  // Assess
  t.equal(err.code, 'locked');
});

t.test(
  'a lock left by a killed holder in another pid namespace of this host (a restarted container) is taken over at once',
  { skip: linuxOnly },
  async (t) => {
    // Prepare: same kernel, another pid namespace, so only the holder's liveness socket can tell.
    const dir = await tempLockDir(t);
    const locks = makeLocks(t, dir, { waitMs: 0, staleMs: 3_600_000 });
    const socket = path.join(dir, '.holder-dead.sock');
    await leaveDeadSocket(t, socket);
    await leaveLock(locks, 'prod/db', otherContainer(ownHolderRecord() as HolderRecord, socket));

    // Act
    const held = await locks.acquire('prod/db');

    // Assess
    t.equal(held.signal.aborted, false);
    t.notOk((await readdir(dir)).includes('.holder-dead.sock'), 'the dead holder’s socket file is removed');
    await held.release();
  },
);

t.test(
  'a lock whose holder in another pid namespace still accepts on its liveness socket is not taken over',
  { skip: linuxOnly },
  async (t) => {
    // Prepare
    const dir = await tempLockDir(t);
    const locks = makeLocks(t, dir, { waitMs: 0, staleMs: 3_600_000 });
    const socket = path.join(dir, '.holder-live.sock');
    await listenAt(t, socket);
    await leaveLock(locks, 'prod/db', otherContainer(ownHolderRecord() as HolderRecord, socket));

    // Act
    const err = await acquireError(locks, 'prod/db');

    // Assess
    t.equal(err.code, 'locked');
  },
);

t.test('a lock held on another host is waited for until it goes stale, then taken over', async (t) => {
  // Prepare: another node of an EFS volume; its pids mean nothing here.
  const dir = await tempLockDir(t);
  const locks = makeLocks(t, dir, { waitMs: 0, staleMs: MIN_STALE_MS });
  const elsewhere: HolderRecord = {
    host: 'another-boot/pid:[1]/node-b',
    boot: 'another-boot',
    pid: 999_999_999,
    startTime: '42',
    socket: path.join(dir, '.holder-elsewhere.sock'),
  };
  await leaveLock(locks, 'fresh', elsewhere);
  await leaveLock(locks, 'stale', elsewhere, 3_600_000);

  // Act
  const fresh = await acquireError(locks, 'fresh');
  const stale = await locks.acquire('stale');

  // Assess
  t.equal(fresh.code, 'locked');
  t.equal(stale.signal.aborted, false);
  await stale.release();
});

t.test(
  'a held lock records its holder process and nothing else, and release leaves nothing',
  { skip: linuxOnly },
  async (t) => {
    // Prepare
    const dir = await tempLockDir(t);
    const locks = makeLocks(t, dir);

    // Act
    const held = await locks.acquire('prod/db');
    const lockDir = `${locks.lockPath('prod/db')}.lock`;
    const [name] = await readdir(lockDir);
    const record = JSON.parse(await readFile(`${lockDir}/${name}`, 'utf8'));
    await held.release();

    // Assess
    t.same(Object.keys(record).sort(), ['boot', 'host', 'pid', 'socket', 'startTime']);
    t.equal(record.pid, process.pid);
    t.match(record, ownHolderRecord());
    t.equal(path.dirname(record.socket), dir, 'the liveness socket lives in the lock directory');
    t.same(
      (await readdir(dir)).filter((name) => name.endsWith('.lock')),
      [],
      'the lock directory and its record are gone',
    );
  },
);

t.test('a held lock keeps other writers out until it is released, and shows as locked meanwhile', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const locks = makeLocks(t, dir);

  // Act
  const before = [locks.lockedNow('prod/db'), await refusedElsewhere(t, dir, 'prod/db')];
  const held = await locks.acquire('prod/db');
  const during = [locks.lockedNow('prod/db'), await refusedElsewhere(t, dir, 'prod/db')];
  await held.release();
  const after = [locks.lockedNow('prod/db'), await refusedElsewhere(t, dir, 'prod/db')];

  // Assess
  t.same(before, [false, false]);
  t.same(during, [true, true]);
  t.same(after, [false, false]);
  t.equal(held.signal.aborted, false);
});

t.test('the lock directory is created on first use', async (t) => {
  // Prepare
  const dir = path.join(await tempLockDir(t), 'nested', 'locks');
  const locks = makeLocks(t, dir);

  // Act
  const held = await locks.acquire('a');

  // Assess
  t.equal((await readdir(dir)).filter((name) => name.endsWith('.lock')).length, 1);
  await held.release();
});

t.test('a second acquire of a held lock waits out waitMs, then fails with 423 locked and a Retry-After', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const waits: [number, boolean][] = [];
  const holder = makeLocks(t, dir);
  const contender = makeLocks(t, dir, { waitMs: 100, onAcquire: (ms, ok) => waits.push([ms, ok]) });
  await holder.acquire('prod/db');

  // Act
  const err = await acquireError(contender, 'prod/db');

  // Assess
  t.equal(err.code, 'locked');
  t.ok((err.retryAfterMs ?? 0) > 0, 'tells the caller when to come back');
  t.notMatch(err.message, /hunter2/);
  t.equal(waits.length, 1);
  t.equal(waits[0]?.[1], false, 'the failed wait is reported');
});

t.test('a waiting acquire gets the lock once the holder releases it', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const holder = makeLocks(t, dir);
  const contender = makeLocks(t, dir, { waitMs: 10_000 });
  const first = await holder.acquire('prod/db');

  // Act
  const waiting = contender.acquire('prod/db');
  setTimeout(() => void first.release(), 50);
  const second = await waiting;

  // Assess
  t.equal(await refusedElsewhere(t, dir, 'prod/db'), true);
  await second.release();
  t.equal(await refusedElsewhere(t, dir, 'prod/db'), false);
});

t.test('with waitMs 0 a held lock fails at once', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  await makeLocks(t, dir).acquire('a');

  // Act
  const err = await acquireError(makeLocks(t, dir, { waitMs: 0 }), 'a');

  // Assess
  t.equal(err.code, 'locked');
});

t.test('locks of different ids are independent', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const locks = makeLocks(t, dir, { waitMs: 0 });
  const a = await locks.acquire('prod/a');

  // Act
  const b = await locks.acquire('prod/b');

  // Assess
  t.same([locks.lockedNow('prod/a'), locks.lockedNow('prod/b')], [true, true]);
  await a.release();
  t.equal(await refusedElsewhere(t, dir, 'prod/a'), false);
  t.equal(await refusedElsewhere(t, dir, 'prod/b'), true, 'releasing one leaves the other held');
  t.same([locks.lockedNow('prod/a'), locks.lockedNow('prod/b')], [false, true]);
  await b.release();
});

t.test('lock files are named by the sha256 of the id, so no id shows in the lock directory', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const locks = makeLocks(t, dir);
  const id = 'prod/db/master-password';

  // Act
  const held = await locks.acquire(id);
  const entries = await readdir(dir);

  // Assess
  const hash = createHash('sha256').update(id).digest('hex');
  t.equal(locks.lockPath(id), path.join(dir, hash));
  t.same(
    entries.filter((name) => !name.startsWith('.holder-')),
    [`${hash}.lock`],
    'beside the lock only this process’s liveness socket',
  );
  t.notMatch(entries.join(' '), /prod|master|password/);
  await held.release();
});

t.test('a stale lock left by a dead holder is taken over', async (t) => {
  // Prepare: what a SIGKILLed holder leaves behind: the lock directory, no longer refreshed.
  const dir = await tempLockDir(t);
  const locks = makeLocks(t, dir, { waitMs: 0, staleMs: MIN_STALE_MS });
  const lockDir = `${locks.lockPath('prod/db')}.lock`;
  await mkdir(lockDir);
  const anHourAgo = new Date(Date.now() - 3_600_000);
  await utimes(lockDir, anHourAgo, anHourAgo);

  // Act
  const held = await locks.acquire('prod/db');

  // Assess
  t.equal(held.signal.aborted, false);
  t.equal(await refusedElsewhere(t, dir, 'prod/db'), true);
  await held.release();
});

t.test('a fresh lock left by another process is not taken over', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const locks = makeLocks(t, dir, { waitMs: 0, staleMs: 60_000 });
  await mkdir(`${locks.lockPath('prod/db')}.lock`);

  // Act
  const err = await acquireError(locks, 'prod/db');

  // Assess
  t.equal(err.code, 'locked');
  t.ok(await stat(`${locks.lockPath('prod/db')}.lock`), 'the lock is left in place');
});

t.test('releaseAll releases every held lock so another writer gets them at once', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const locks = makeLocks(t, dir);
  await locks.acquire('a');
  await locks.acquire('b');

  // Act
  await locks.releaseAll();

  // Assess
  const other = makeLocks(t, dir, { waitMs: 0 });
  t.same([locks.lockedNow('a'), locks.lockedNow('b')], [false, false]);
  await (await other.acquire('a')).release();
  await (await other.acquire('b')).release();
});

t.test('releasing twice is harmless and does not free a lock someone else took meanwhile', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const first = makeLocks(t, dir, { waitMs: 0 });
  const second = makeLocks(t, dir, { waitMs: 0 });
  const held = await first.acquire('a');
  await held.release();
  const taken = await second.acquire('a');

  // Act
  await held.release();

  // Assess
  t.equal(await refusedElsewhere(t, dir, 'a'), true);
  await taken.release();
});

t.test('a lock lost while held aborts its signal, tells onCompromised, and does not crash', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const compromised: string[] = [];
  const locks = makeLocks(t, dir, {
    waitMs: 0,
    staleMs: MIN_STALE_MS,
    onCompromised: (id) => compromised.push(id),
  });
  const held = await locks.acquire('prod/db');

  // Act: someone removes the lock; the holder notices at its next refresh (about staleMs / 2).
  await rm(`${locks.lockPath('prod/db')}.lock`, { recursive: true });
  const aborted = await lost(held);

  // Assess
  t.equal(aborted, true, 'the held lock’s signal was aborted');
  t.ok(held.signal.reason instanceof SecretError);
  t.equal((held.signal.reason as SecretError).code, 'locked');
  t.same(compromised, ['prod/db']);

  // A new writer may take the lock; the compromised holder's release must leave that lock alone.
  const other = makeLocks(t, dir, { waitMs: 0 });
  const taken = await other.acquire('prod/db');
  await held.release();
  t.equal(await refusedElsewhere(t, dir, 'prod/db'), true);
  await taken.release();
});

t.test(
  'what killed processes left in the lock directory is swept when locking starts',
  { skip: linuxOnly },
  async (t) => {
    // Prepare: a lock half created and one half released long ago, and the liveness socket of a
    // killed process of this kernel.
    const dir = await tempLockDir(t);
    const self = ownHolderRecord() as HolderRecord;
    const hash = createHash('sha256').update('prod/db').digest('hex');
    const longAgo = new Date(Date.now() - 3_600_000);
    for (const leftover of [`${hash}.lock.0123456789abcdef.creating`, `${hash}.lock.fedcba9876543210.released`]) {
      await mkdir(path.join(dir, leftover));
      await utimes(path.join(dir, leftover), longAgo, longAgo);
    }
    const named = path.join(dir, `.holder-${self.boot.replaceAll('-', '')}-0123456789abcdef.sock`);
    await leaveDeadSocket(t, named);

    // Act
    const locks = makeLocks(t, dir);
    const held = await locks.acquire('prod/db');

    // Assess
    const entries = await readdir(dir);
    t.same(
      entries.filter((name) => !name.startsWith('.holder-')),
      [`${hash}.lock`],
      'only the new lock is left',
    );
    t.notOk(entries.includes(path.basename(named)), 'the dead socket is removed');
    await held.release();
  },
);
