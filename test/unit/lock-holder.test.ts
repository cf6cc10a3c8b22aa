import { once } from 'node:events';
import { readlinkSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  type HolderRecord,
  isGoneFromThisHost,
  LivenessSocket,
  ownHolderRecord,
  readHolder,
  removeAbandonedSocket,
  removeAbandonedSockets,
} from '../../agent/broker/lock-holder.js';
import { tempLockDir } from '../helpers/lock-fixture.js';
import { leaveDeadSocket, linuxOnly, listenAt, otherContainer } from '../helpers/lock-holders.js';

t.test('a holder record names this process by boot, pid namespace and host name', { skip: linuxOnly }, async (t) => {
  // Prepare
  const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  const pidNamespace = readlinkSync('/proc/self/ns/pid');

  // Act
  const record = ownHolderRecord();

  // Assess
  t.same(Object.keys(record ?? {}).sort(), ['boot', 'host', 'pid', 'startTime']);
  t.equal(record?.host, `${boot}/${pidNamespace}/${os.hostname()}`);
  t.equal(record?.boot, boot);
  t.equal(record?.pid, process.pid);
  t.match(record?.startTime, /^\d+$/);
});

t.test('only a file named holder-*.json in a lock directory is read as its holder record', async (t) => {
  // Prepare: files that hold a valid record under other names, as an older broker or a person might leave.
  const dir = await tempLockDir(t);
  const record: HolderRecord = { host: 'h', boot: 'b', pid: 7, startTime: '9' };
  const strays = path.join(dir, 'strays.lock');
  await mkdir(strays);
  await writeFile(path.join(strays, 'notes.json'), JSON.stringify(record));
  await writeFile(path.join(strays, 'holder-0123456789abcdef.txt'), JSON.stringify(record));
  const held = path.join(dir, 'held.lock');
  await mkdir(held);
  await writeFile(path.join(held, 'holder-0123456789abcdef.json'), JSON.stringify(record));

  // Act
  const fromStrays = await readHolder(strays);
  const fromHeld = await readHolder(held);

  // Assess
  t.equal(fromStrays, undefined);
  t.same(fromHeld, { name: 'holder-0123456789abcdef.json', record });
});

t.test('a holder record of the wrong shape is no holder record at all', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const valid: HolderRecord = { host: 'h', boot: 'b', pid: 7, startTime: '9' };
  const shapes: Record<string, unknown> = {
    null: null,
    'a number': 42,
    'host missing': { ...valid, host: undefined },
    'host a number': { ...valid, host: 1 },
    'boot missing': { ...valid, boot: undefined },
    'boot a number': { ...valid, boot: 1 },
    'pid a string': { ...valid, pid: '7' },
    'pid a fraction': { ...valid, pid: 7.5 },
    'start time a number': { ...valid, startTime: 9 },
    'socket a number': { ...valid, socket: 5 },
  };

  const texts: [string, string][] = Object.entries(shapes).map(([why, shape]) => [why, JSON.stringify(shape)]);
  texts.push(['not JSON', '{"host": "h", "boot": '], ['empty', '']);

  for (const [why, text] of texts) {
    const lockDir = path.join(dir, `${why}.lock`);
    await mkdir(lockDir);
    await writeFile(path.join(lockDir, 'holder-0123456789abcdef.json'), text);

    // Act
    const holder = await readHolder(lockDir);

    // Assess
    t.equal(holder, undefined, why);
  }
  for (const record of [valid, { ...valid, socket: '/run/x.sock' }] as HolderRecord[]) {
    const lockDir = path.join(dir, `valid-${record.socket === undefined ? 'plain' : 'socket'}.lock`);
    await mkdir(lockDir);
    await writeFile(path.join(lockDir, 'holder-0123456789abcdef.json'), JSON.stringify(record));
    t.same((await readHolder(lockDir))?.record, record, 'a complete record is read');
  }
});

t.test('a process that cannot identify itself never judges a holder gone', async (t) => {
  // Prepare: the record of a pid that cannot be running.
  const record: HolderRecord = { host: 'h', boot: 'b', pid: 2 ** 22 + 1, startTime: '1' };

  // Act and assess
  t.equal(await isGoneFromThisHost(record, undefined), false);
});

t.test(
  'a holder in another pid namespace of this host is judged by its liveness socket',
  { skip: linuxOnly },
  async (t) => {
    // Prepare
    const dir = await tempLockDir(t);
    const self = ownHolderRecord() as HolderRecord;
    const dead = path.join(dir, '.holder-dead.sock');
    await leaveDeadSocket(t, dead);
    const live = path.join(dir, '.holder-live.sock');
    await listenAt(t, live);
    const regularFile = path.join(dir, 'plain');
    await writeFile(regularFile, '');

    // Act
    const judged = {
      'killed, its socket file left': await isGoneFromThisHost(otherContainer(self, dead), self),
      'its socket file removed': await isGoneFromThisHost(otherContainer(self, path.join(dir, 'gone.sock')), self),
      'still accepting': await isGoneFromThisHost(otherContainer(self, live), self),
      'socket unreachable (a path through a file)': await isGoneFromThisHost(
        otherContainer(self, path.join(regularFile, 'x.sock')),
        self,
      ),
      'no socket recorded': await isGoneFromThisHost(otherContainer(self), self),
    };

    // Assess: only a refused or missing socket means gone; any doubt counts as alive.
    t.same(judged, {
      'killed, its socket file left': true,
      'its socket file removed': true,
      'still accepting': false,
      'socket unreachable (a path through a file)': false,
      'no socket recorded': false,
    });
  },
);

t.test(
  'the liveness socket accepts and closes every connection at once, serving nothing',
  { skip: linuxOnly },
  async (t) => {
    // Prepare
    const liveness = new LivenessSocket(await tempLockDir(t), ownHolderRecord());
    t.teardown(() => liveness.close());
    const socketPath = (await liveness.path()) as string;

    // Act
    const client = net.connect({ path: socketPath });
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    const closed = await Promise.race([
      once(client, 'close').then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000).unref()),
    ]);
    client.destroy();

    // Assess
    t.equal(closed, true, 'the broker closed the connection');
    t.same(received, [], 'nothing was sent');
  },
);

t.test(
  'the liveness socket is opened once, in the lock directory, and its file removed on close',
  { skip: linuxOnly },
  async (t) => {
    // Prepare
    const dir = await tempLockDir(t);
    const liveness = new LivenessSocket(dir, ownHolderRecord());

    // Act
    const first = await liveness.path();
    const again = await liveness.path();
    const whileOpen = await readdir(dir);
    await liveness.close();
    const afterClose = await readdir(dir);

    // Assess
    t.equal(again, first);
    t.equal(path.dirname(first as string), dir);
    t.same(whileOpen, [path.basename(first as string)]);
    t.same(afterClose, [], 'the socket file is gone');
  },
);

t.test('no liveness socket where the process cannot be identified or the socket cannot listen', async (t) => {
  // Prepare
  const dir = await tempLockDir(t);
  const unidentified = new LivenessSocket(dir, undefined);
  const nowhere = new LivenessSocket(
    path.join(dir, 'missing'),
    ownHolderRecord() ?? { host: 'h', boot: 'b', pid: 1, startTime: '1' },
  );

  // Act
  const paths = [await unidentified.path(), await nowhere.path()];

  // Assess: a holder without a socket goes stale by time instead.
  t.same(paths, [undefined, undefined]);
  t.same(await readdir(dir), []);
});

t.test('a liveness socket path of 107 bytes is used, one of 108 is not', { skip: linuxOnly }, async (t) => {
  // Prepare: socket names are `.holder-<32 hex>-<16 hex>.sock`, 62 bytes, after the directory and a slash.
  const base = await tempLockDir(t);
  const self = ownHolderRecord() as HolderRecord;
  const fits = path.join(base, 'f'.repeat(107 - 62 - 1 - base.length - 1));
  const tooLong = `${fits}x`;
  await mkdir(fits);
  await mkdir(tooLong);
  const atLimit = new LivenessSocket(fits, self);
  const overLimit = new LivenessSocket(tooLong, self);
  t.teardown(() => atLimit.close());

  // Act
  const fitting = await atLimit.path();
  const refused = await overLimit.path();

  // Assess
  t.equal(Buffer.byteLength(fitting ?? ''), 107);
  t.equal(refused, undefined);
});

t.test(
  'the sweep removes only the liveness sockets that killed processes of this kernel left',
  { skip: linuxOnly },
  async (t) => {
    // Prepare
    const dir = await tempLockDir(t);
    const self = ownHolderRecord() as HolderRecord;
    const ours = `.holder-${self.boot.replaceAll('-', '')}-`;
    await leaveDeadSocket(t, path.join(dir, `${ours}dead.sock`));
    await listenAt(t, path.join(dir, `${ours}live.sock`));
    await leaveDeadSocket(t, path.join(dir, '.holder-0123456789abcdef0123456789abcdef-otherkernel.sock'));
    await writeFile(path.join(dir, `${ours}notes.txt`), '');
    await writeFile(path.join(dir, 'abc.version'), '3');
    await mkdir(path.join(dir, 'abc.lock'));
    const names = await readdir(dir);

    // Act
    await removeAbandonedSockets(dir, names, undefined);
    const whenUnidentified = await readdir(dir);
    await removeAbandonedSockets(dir, names, self);

    // Assess
    t.same(whenUnidentified.sort(), names.sort(), 'a process that cannot identify itself removes nothing');
    t.same(
      (await readdir(dir)).sort(),
      names.filter((name) => name !== `${ours}dead.sock`).sort(),
      'only the dead socket of this kernel is gone',
    );
  },
);

t.test(
  'a taken-over holder’s socket file is removed only when it is a liveness socket in the lock directory',
  async (t) => {
    // Prepare
    const dir = await tempLockDir(t);
    const elsewhere = await tempLockDir(t);
    const files = {
      socket: path.join(dir, '.holder-abc.sock'),
      marker: path.join(dir, 'abc.version'),
      otherDir: path.join(elsewhere, '.holder-abc.sock'),
    };
    for (const file of Object.values(files)) await writeFile(file, '');
    const record: HolderRecord = { host: 'h', boot: 'b', pid: 1, startTime: '1' };

    // Act
    for (const socket of Object.values(files)) await removeAbandonedSocket({ ...record, socket }, dir);
    await removeAbandonedSocket(record, dir);

    // Assess
    t.same(await readdir(dir), ['abc.version'], 'the marker a record named is left alone');
    t.same(await readdir(elsewhere), ['.holder-abc.sock'], 'so is a file in another directory');
  },
);
