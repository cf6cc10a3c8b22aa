/**
 * Cross-broker coherence through the version markers on the lock volume: two brokers over one
 * backend and one lock directory, as two containers of a pod (or two pods on EFS) are.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { sweepLeftovers } from '../../agent/broker/lock-fs.js';
import { ownHolderRecord } from '../../agent/broker/lock-holder.js';
import type { MarkerCheck } from '../../agent/broker/marker-sightings.js';
import { ReadThroughCache } from '../../agent/broker/read-through-cache.js';
import { NotModified, SecretBroker } from '../../agent/broker/secret-broker.js';
import { FileSecretLocks } from '../../agent/broker/secret-locks.js';
import { MARKER_SUFFIX, markerName } from '../../agent/broker/version-markers.js';
import { FAST_RETRY } from '../helpers/broker-app.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

function brokerOn(backend: MemoryBackend, lockDir: string, markerCheck?: MarkerCheck): SecretBroker {
  return new SecretBroker({
    backend,
    locks: new FileSecretLocks({
      dir: lockDir,
      waitMs: 2000,
      staleMs: 10_000,
      ...(markerCheck ? { markerCheck } : {}),
    }),
    cache: new ReadThroughCache({ ttlMs: 600_000, maxEntries: 100, staleIfErrorMs: 0, jitterRatio: 0 }),
    retry: FAST_RETRY,
  });
}

async function twoBrokers(t: Test, markerCheck?: MarkerCheck) {
  const lockDir = await mkdtemp(path.join(os.tmpdir(), 'sb-markers-'));
  const backend = new MemoryBackend();
  const one = brokerOn(backend, lockDir, markerCheck);
  const two = brokerOn(backend, lockDir, markerCheck);
  t.teardown(async () => {
    await one.close();
    await two.close();
    await rm(lockDir, { recursive: true, force: true });
  });
  return { lockDir, backend, one, two };
}

/** Reads through `broker` until it shows `version`, for at most ~3 s; returns the version it last showed. */
async function readUntil(broker: SecretBroker, id: string, version: string | undefined): Promise<string | undefined> {
  let shown: string | undefined;
  for (let i = 0; i < 150; i++) {
    shown = await broker.read(id).then(
      (read) => read.record.version,
      () => undefined,
    );
    if (shown === version) return shown;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return shown;
}

t.test('a write through one broker reaches the cache of another sharing the lock volume', async (t) => {
  // Prepare
  const { lockDir, one, two } = await twoBrokers(t);
  const created = await one.create({ id: 'app/db', value: 'one' });
  t.equal((await two.read('app/db')).record.value, 'one', 'the second broker caches the first version');

  // Act
  const updated = await one.update('app/db', { value: 'two' });
  const shown = await readUntil(two, 'app/db', updated.version);

  // Assess
  t.equal(shown, updated.version, 'the second broker drops its cached version and reads the new one');
  t.equal((await two.read('app/db')).record.value, 'two');
  const marker = path.join(lockDir, markerName('app/db'));
  t.equal(await readFile(marker, 'utf8'), updated.version, 'the marker holds the version alone');
  t.not(created.version, updated.version);
  const names = await readdir(lockDir);
  t.same(
    names.filter((n) => n.endsWith(MARKER_SUFFIX)),
    [markerName('app/db')],
    'one marker per secret, named like its lock; no temp file left',
  );
  t.notOk(
    names.some((n) => n.includes('app')),
    'no id in any name',
  );
});

/**
 * Resolves with the first version of `id` other than `known` that `broker` learns of from now on.
 * The lock volume's scan timer does not keep the process alive, so a timer here does meanwhile.
 */
function nextVersion(broker: SecretBroker, id: string, known: string): Promise<string | undefined> {
  const keepAlive = setInterval(() => undefined, 1000);
  return new Promise((resolve) => {
    const stop = broker.onVersionChange(id, (seen) => {
      if (seen === known) return;
      stop();
      clearInterval(keepAlive);
      resolve(seen);
    });
  });
}

t.test('with the contents check (network volumes), a write through one broker reaches another’s cache', async (t) => {
  // Prepare
  const { backend, one, two } = await twoBrokers(t, 'contents');
  const created = await one.create({ id: 'app/db', value: 'one' });
  t.equal((await two.read('app/db')).record.value, 'one', 'the second broker caches the first version');
  const getsBefore = backend.calls.get;
  const learned = nextVersion(two, 'app/db', created.version);

  // Act: wait for the second broker's scan to read the marker (no watch, so no backend poll)
  const updated = await one.update('app/db', { value: 'two' });
  const seen = await learned;
  const read = await two.read('app/db');

  // Assess
  t.equal(seen, updated.version, 'the marker told the new version');
  t.equal(read.record.value, 'two', 'the cached version was dropped');
  t.equal(read.cache, 'miss');
  t.equal(backend.calls.get, getsBefore + 1, 'one backend read, after the marker');
});

t.test('a delete through one broker is seen by another, and so is the restore', async (t) => {
  // Prepare
  const { lockDir, one, two } = await twoBrokers(t);
  const created = await one.create({ id: 'app/db', value: 'one' });
  await two.read('app/db');

  // Act
  await one.remove('app/db');
  const afterDelete = await readUntil(two, 'app/db', undefined);
  const marker = await readFile(path.join(lockDir, markerName('app/db')), 'utf8');
  await one.restore('app/db');
  const afterRestore = await readUntil(two, 'app/db', created.version);

  // Assess
  t.equal(afterDelete, undefined, 'the second broker answers not found');
  t.equal(marker, '', 'a deleted secret’s marker is empty');
  t.equal(afterRestore, created.version, 'and reads the restored secret again');
});

t.test('a write through one broker wakes a watch held by another', async (t) => {
  // Prepare
  const { one, two } = await twoBrokers(t);
  const created = await one.create({ id: 'app/db', value: 'one' });
  const held = two.watch('app/db', created.version, 30_000);

  // Act
  const updated = await one.update('app/db', { value: 'two' });
  const answer = await held;

  // Assess
  if (answer instanceof NotModified) throw new Error('the watch answered unchanged');
  t.equal(answer.record.version, updated.version, 'the watch answers the new version');
  t.equal(answer.record.value, 'two');
});

t.test('a broker’s own write leaves its cache entry in place when its marker is seen', async (t) => {
  // Prepare
  const { backend, one } = await twoBrokers(t);
  await one.create({ id: 'app/db', value: 'one' });
  await one.update('app/db', { value: 'two' });
  const gets = backend.calls.get;

  // Act: wait for a few lock-volume scans to have looked at the marker
  await new Promise((resolve) => setTimeout(resolve, 600));
  const read = await one.read('app/db');

  // Assess
  t.equal(read.cache, 'hit', 'still answered from the cache');
  t.equal(backend.calls.get, gets, 'no backend read');
});

t.test('a marker temp file a killed writer left is swept like the lock leftovers', async (t) => {
  // Prepare
  const lockDir = await mkdtemp(path.join(os.tmpdir(), 'sb-markers-'));
  t.teardown(() => rm(lockDir, { recursive: true, force: true }));
  const leftover = `${markerName('app/db')}.0123456789abcdef.creating`;
  await writeFile(path.join(lockDir, leftover), '7');
  await writeFile(path.join(lockDir, markerName('app/db')), '7');

  // Act: a sweep a minute and more later
  await sweepLeftovers(lockDir, ownHolderRecord(), Date.now() + 120_000);

  // Assess
  t.same(await readdir(lockDir), [markerName('app/db')], 'the temp file is gone, the marker stays');
});

/** Every regular file under `dir`, at any depth. */
async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if ((await stat(file)).isFile()) files.push(file);
  }
  return files;
}

t.test('no secret value or id is written to the lock volume by writes, a delete or a restore', async (t) => {
  // Prepare
  const { lockDir, one, two } = await twoBrokers(t, 'contents');
  const values = ['first-value-3f9a', 'second-value-8c1e'];

  // Act
  await one.create({ id: 'team/app/db', value: values[0] as string, description: 'db password' });
  await two.read('team/app/db');
  await two.update('team/app/db', { value: values[1] as string });
  await one.remove('team/app/db');
  await two.restore('team/app/db');
  const files = await filesUnder(lockDir);
  const texts = await Promise.all(files.map((file) => readFile(file, 'utf8')));

  // Assess
  t.ok(
    files.some((file) => file.endsWith(MARKER_SUFFIX)),
    'the marker is among the files looked at',
  );
  for (const [i, text] of texts.entries()) {
    for (const secret of [...values, 'team/app/db', 'db password']) {
      t.notOk(text.includes(secret), `${path.relative(lockDir, files[i] as string)} holds no ${secret}`);
    }
  }
  t.notOk(
    files.some((file) => file.includes('team')),
    'no id in any name',
  );
});
