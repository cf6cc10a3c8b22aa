import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { HolderAwareLockFs, sweepLeftovers } from '../../agent/broker/lock-fs.js';
import { type HolderRecord, LivenessSocket, ownHolderRecord, readHolder } from '../../agent/broker/lock-holder.js';

const linuxOnly = process.platform === 'linux' ? false : 'holder records identify processes through /proc';
const HASH = 'a'.repeat(64);
/** A whole second, so that file times compare exactly. */
const LONG_AGO_MS = 1_700_000_000_000;

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-lockfs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function makeEntry(dir: string, name: string, kind: 'dir' | 'file', mtimeMs = LONG_AGO_MS): Promise<void> {
  const entry = path.join(dir, name);
  if (kind === 'dir') await mkdir(entry);
  else await writeFile(entry, '');
  await utimes(entry, new Date(mtimeMs), new Date(mtimeMs));
}

/** The lock file operations proper-lockfile calls, as promises. */
function lockFsOf(t: Test, dir: string, self: HolderRecord | undefined, now?: () => number) {
  const liveness = new LivenessSocket(dir, self);
  t.teardown(() => liveness.close());
  const fs = new HolderAwareLockFs({ staleMs: 10_000, liveness, self, now });
  return {
    fs,
    create: promisify(fs.mkdir),
    inspect: promisify(fs.stat) as (lockDir: string) => Promise<unknown>,
    release: promisify(fs.rmdir),
  };
}

/** A lock directory as another host's holder leaves it on a shared (EFS) volume. */
async function leaveForeignLock(dir: string, mtimeMs: number, socket?: string): Promise<string> {
  const lockDir = path.join(dir, `${HASH}.lock`);
  const record: HolderRecord = {
    host: 'another-boot/pid:[1]/node-b',
    boot: 'another-boot',
    pid: 1,
    startTime: '1',
    socket,
  };
  await mkdir(lockDir);
  await writeFile(path.join(lockDir, 'holder-0123456789abcdef.json'), JSON.stringify(record));
  await utimes(lockDir, new Date(mtimeMs), new Date(mtimeMs));
  return lockDir;
}

t.test('the sweep removes mid-step entries older than a minute and nothing else', async (t) => {
  // Prepare
  const dir = await tempDir(t);
  const swept = [
    `${HASH}.lock.0123456789abcdef.creating`,
    `${HASH}.lock.0123456789abcdef.released`,
    `${HASH}.version.0123456789abcdef.creating`,
  ];
  for (const name of swept) await makeEntry(dir, name, name.includes('.version.') ? 'file' : 'dir');
  const kept = [
    `${HASH}.lock`,
    `${HASH}.version`,
    `${HASH}.lock.0123456789abcdef.creating.bak`,
    `${HASH}.lock.xyz.released`,
  ];
  for (const name of kept) await makeEntry(dir, name, name.endsWith('.version') ? 'file' : 'dir');
  await makeEntry(dir, `${HASH}.lock.fedcba9876543210.creating`, 'dir', LONG_AGO_MS + 1);

  // Act: a minute and one millisecond after the old entries, exactly a minute after the young one.
  await sweepLeftovers(dir, undefined, LONG_AGO_MS + 60_001);

  // Assess
  t.same((await readdir(dir)).sort(), [...kept, `${HASH}.lock.fedcba9876543210.creating`].sort());
});

t.test('brokers sweeping the same leftovers at once all finish', async (t) => {
  // Prepare
  const dir = await tempDir(t);
  for (let i = 0; i < 40; i++) await makeEntry(dir, `${HASH}.lock.${i.toString(16).padStart(16, '0')}.released`, 'dir');

  // Act
  const sweeps = await Promise.allSettled([1, 2, 3].map(() => sweepLeftovers(dir, undefined)));

  // Assess
  t.same(
    sweeps.map((s) => s.status),
    ['fulfilled', 'fulfilled', 'fulfilled'],
  );
  t.same(await readdir(dir), []);
});

t.test('where the process cannot be identified, its lock records the pid alone, and is released whole', async (t) => {
  // Prepare
  const dir = await tempDir(t);
  const { create, release } = lockFsOf(t, dir, undefined);
  const lockDir = path.join(dir, `${HASH}.lock`);

  // Act
  await create(lockDir);
  const holder = await readHolder(lockDir);
  await release(lockDir);

  // Assess
  t.same(holder?.record, { host: '', boot: '', pid: process.pid, startTime: '' });
  t.same(await readdir(dir), [], 'no lock and no socket left');
});

t.test('a lock of another host is held until it is older than staleMs, then taken over', async (t) => {
  // Prepare: a clock exactly staleMs after the lock's last refresh, and one a millisecond later.
  const dir = await tempDir(t);
  const lockDir = await leaveForeignLock(dir, LONG_AGO_MS);
  const atLimit = lockFsOf(t, dir, ownHolderRecord(), () => LONG_AGO_MS + 10_000);
  const pastLimit = lockFsOf(t, dir, ownHolderRecord(), () => LONG_AGO_MS + 10_001);

  // Act
  const held = await atLimit.inspect(lockDir);
  const takenOver = await pastLimit.inspect(lockDir).then(
    () => undefined,
    (err: NodeJS.ErrnoException) => err.code,
  );

  // Assess
  t.equal((held as { mtimeMs: number }).mtimeMs, LONG_AGO_MS, 'the lock as it is');
  t.equal(takenOver, 'ENOENT', 'gone: proper-lockfile may create it anew');
  t.same(await readdir(dir), [], 'the abandoned lock is removed');
});

t.test('taking over a stale lock of another host leaves that host’s liveness socket alone', async (t) => {
  // Prepare: on EFS, another host's socket file sits in the shared lock directory.
  const dir = await tempDir(t);
  const socket = path.join(dir, '.holder-elsewhere.sock');
  await writeFile(socket, '');
  const lockDir = await leaveForeignLock(dir, LONG_AGO_MS, socket);
  const { inspect } = lockFsOf(t, dir, ownHolderRecord());

  // Act
  await inspect(lockDir).catch(() => undefined);

  // Assess
  t.same(await readdir(dir), ['.holder-elsewhere.sock']);
});

t.test('a lock without a holder record (an older broker’s) is taken over only once stale', async (t) => {
  // Prepare
  const dir = await tempDir(t);
  const fresh = path.join(dir, `${'b'.repeat(64)}.lock`);
  const stale = path.join(dir, `${'c'.repeat(64)}.lock`);
  await mkdir(fresh);
  await mkdir(stale);
  await utimes(stale, new Date(LONG_AGO_MS), new Date(LONG_AGO_MS));
  const { inspect } = lockFsOf(t, dir, ownHolderRecord());

  // Act
  const freshOutcome = await inspect(fresh).then(
    () => 'held',
    (err: NodeJS.ErrnoException) => err.code,
  );
  const staleOutcome = await inspect(stale).then(
    () => 'held',
    (err: NodeJS.ErrnoException) => err.code,
  );

  // Assess
  t.equal(freshOutcome, 'held');
  t.equal(staleOutcome, 'ENOENT');
  t.same(await readdir(dir), [path.basename(fresh)]);
});

t.test('the release at exit removes a lock held here, and leaves one taken over meanwhile', async (t) => {
  // Prepare
  const dir = await tempDir(t);
  const { fs, create } = lockFsOf(t, dir, ownHolderRecord());
  const ours = path.join(dir, `${'d'.repeat(64)}.lock`);
  const lost = path.join(dir, `${'e'.repeat(64)}.lock`);
  await create(ours);
  await create(lost);
  // Another writer took `lost` over: its directory now carries another record.
  await rm(lost, { recursive: true });
  await mkdir(lost);
  await writeFile(path.join(lost, 'holder-fedcba9876543210.json'), '{}');

  // Act
  fs.rmdirSync(ours);
  const lostOutcome = (() => {
    try {
      fs.rmdirSync(lost);
      return 'removed';
    } catch (err) {
      return (err as NodeJS.ErrnoException).code;
    }
  })();
  fs.rmdirSync(path.join(dir, 'never-held.lock'));

  // Assess
  t.equal(lostOutcome, 'ENOENT', 'our record is not in it');
  t.same(
    (await readdir(dir)).filter((name) => !name.startsWith('.holder-')),
    [path.basename(lost)],
  );
  t.same(await readdir(lost), ['holder-fedcba9876543210.json'], 'the new holder’s lock is intact');
});

t.test('a broker that exits while holding a lock leaves no lock behind', { skip: linuxOnly }, async (t) => {
  // Prepare
  const dir = await tempDir(t);
  const script = fileURLToPath(new URL('../helpers/lock-holding-process.ts', import.meta.url));

  // Act: the process takes the lock, says so, and exits without releasing it.
  const child = spawn(process.execPath, ['--import', '@tapjs/typescript/import', script, dir], {
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  const output: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  const [code] = await once(child, 'exit');

  // Assess
  t.equal(code, 0);
  t.equal(Buffer.concat(output).toString(), 'held\n');
  t.same(
    (await readdir(dir)).filter((name) => !name.startsWith('.holder-')),
    [],
    'neither the lock nor a half-removed one is left',
  );
});

t.test('a lock moved away and back by someone else is not released as ours', async (t) => {
  // Prepare: the lock directory was replaced by one without our record.
  const dir = await tempDir(t);
  const { create, release } = lockFsOf(t, dir, ownHolderRecord());
  const lockDir = path.join(dir, `${HASH}.lock`);
  await create(lockDir);
  await rename(lockDir, path.join(dir, 'ours-moved-away'));
  await mkdir(lockDir);
  await writeFile(path.join(lockDir, 'holder-fedcba9876543210.json'), '{"someone":"else"}');

  // Act
  const outcome = await release(lockDir).then(
    () => 'released',
    (err: NodeJS.ErrnoException) => err.code,
  );

  // Assess
  t.equal(outcome, 'ENOENT');
  t.equal(await readFile(path.join(lockDir, 'holder-fedcba9876543210.json'), 'utf8'), '{"someone":"else"}');
});

t.test('a lock held here is never taken as abandoned by its own holder, however late its refresh', async (t) => {
  // Prepare: a clock an hour on, as after an event loop stalled far past staleMs.
  const dir = await tempDir(t);
  const { create, inspect } = lockFsOf(t, dir, ownHolderRecord(), () => Date.now() + 3_600_000);
  const lockDir = path.join(dir, `${HASH}.lock`);
  await create(lockDir);

  // Act: proper-lockfile's refresh looks at the lock first.
  const seen = await inspect(lockDir);

  // Assess: it is left to proper-lockfile to see that the time stamp is still its own.
  t.ok(seen, 'the lock as it is');
  t.same(await readdir(lockDir), [(await readHolder(lockDir))?.name]);
});
