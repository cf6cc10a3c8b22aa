/**
 * Which markers a broker keeps looking at: those of ids it read or wrote within the idle time
 * (its cache's TTL plus stale window, in `serve`), and those of ids a watch waits on, however long.
 * Every other marker is let go, so a scan's cost follows what the cache may still answer rather
 * than every id ever read.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ReadThroughCache } from '../../agent/broker/read-through-cache.js';
import { NotModified, SecretBroker } from '../../agent/broker/secret-broker.js';
import { FileSecretLocks } from '../../agent/broker/secret-locks.js';
import { VersionMarkers } from '../../agent/broker/version-markers.js';
import { FAST_RETRY } from '../helpers/broker-app.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

const ID = 'app/db';
const IDLE_MS = 1000;

/** A follower on an injected clock, a writer of markers beside it, and what the follower reported. */
async function markersOnAClock(t: Test) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-markers-idle-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const clock = { now: 0 };
  const follower = new VersionMarkers(dir, { now: () => clock.now, check: 'attributes', idleMs: IDLE_MS });
  const writer = new VersionMarkers(dir);
  const reported: (string | undefined)[] = [];
  follower.onChange((_id, version) => reported.push(version));
  /** Another broker writes `version`, then the follower scans the directory as its background scan does. */
  const writeAndScan = async (version: string) => {
    await writer.write(ID, version);
    await follower.scan(await readdir(dir));
  };
  return { clock, follower, reported, writeAndScan };
}

t.test('an id read within the idle time has its marker followed', async (t) => {
  // Prepare
  const { clock, follower, reported, writeAndScan } = await markersOnAClock(t);
  follower.track(ID);

  // Act
  clock.now = IDLE_MS;
  await writeAndScan('2');

  // Assess
  t.same(reported, ['2']);
});

t.test('an id not read for longer than the idle time is let go, and followed again once read', async (t) => {
  // Prepare
  const { clock, follower, reported, writeAndScan } = await markersOnAClock(t);
  follower.track(ID);

  // Act
  clock.now = IDLE_MS + 1;
  await writeAndScan('2');
  follower.track(ID);
  await writeAndScan('3');

  // Assess
  t.same(reported, ['3'], 'the write made while the id was let go is not reported; the one after the read is');
});

t.test('reading an id again restarts its idle time', async (t) => {
  // Prepare
  const { clock, follower, reported, writeAndScan } = await markersOnAClock(t);
  follower.track(ID);
  clock.now = IDLE_MS - 1;
  follower.track(ID);

  // Act
  clock.now = 2 * IDLE_MS - 2;
  await writeAndScan('2');

  // Assess
  t.same(reported, ['2']);
});

t.test('a held id is followed past the idle time, and let go an idle time after its release', async (t) => {
  // Prepare
  const { clock, follower, reported, writeAndScan } = await markersOnAClock(t);
  const release = follower.hold(ID);

  // Act
  clock.now = 10 * IDLE_MS;
  await writeAndScan('2');
  release();
  release();
  clock.now += IDLE_MS;
  await writeAndScan('3');
  clock.now += 1;
  await writeAndScan('4');

  // Assess
  t.same(reported, ['2', '3'], 'followed while held and for the idle time after; a second release changes nothing');
});

t.test('without an idle time an id is followed however long ago it was read', async (t) => {
  // Prepare
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-markers-idle-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let now = 0;
  const follower = new VersionMarkers(dir, { now: () => now, check: 'attributes' });
  const reported: (string | undefined)[] = [];
  follower.onChange((_id, version) => reported.push(version));
  follower.track(ID);

  // Act
  now = 1e9;
  await new VersionMarkers(dir).write(ID, '2');
  await follower.scan(await readdir(dir));

  // Assess
  t.same(reported, ['2']);
});

t.test('a watch keeps its id followed while it waits, however short the idle time', async (t) => {
  // Prepare: the second broker lets go of every id it is not holding at each scan, and its watch
  // polls the backend only after a minute, so only the marker can wake the watch in time.
  const lockDir = await mkdtemp(path.join(os.tmpdir(), 'sb-markers-idle-'));
  const backend = new MemoryBackend();
  const broker = (markerIdleMs?: number) =>
    new SecretBroker({
      backend,
      locks: new FileSecretLocks({
        dir: lockDir,
        waitMs: 2000,
        staleMs: 10_000,
        ...(markerIdleMs === undefined ? {} : { markerIdleMs }),
      }),
      cache: new ReadThroughCache({ ttlMs: 600_000, maxEntries: 100, staleIfErrorMs: 0, jitterRatio: 0 }),
      retry: FAST_RETRY,
      watch: { pollIntervalMs: 60_000, maxWatches: 10 },
    });
  const one = broker();
  const two = broker(0);
  t.teardown(async () => {
    await one.close();
    await two.close();
    await rm(lockDir, { recursive: true, force: true });
  });
  const created = await one.create({ id: ID, value: 'one' });
  const held = two.watch(ID, created.version, 5000);
  // Several background scans of the second broker pass while the watch waits.
  await new Promise((resolve) => setTimeout(resolve, 800));

  // Act
  const updated = await one.update(ID, { value: 'two' });
  const answer = await held;

  // Assess
  if (answer instanceof NotModified) throw new Error('the watch answered unchanged: its id was let go');
  t.equal(answer.record.version, updated.version, 'the marker woke the watch with the new version');
});
