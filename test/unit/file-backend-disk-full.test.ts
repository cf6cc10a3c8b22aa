/**
 * The file store on a full volume: a small tmpfs mounted for the test (needs root, as in CI).
 * Writes fail with a clear 503 and leave the old value and no temp file; reads and readiness go
 * on; the failures show in the backend call metric; writes work again once space is freed.
 */
import { execFileSync } from 'node:child_process';
import { appendFile, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { SecretBackend } from '../../agent/backends/contract.js';
import { createFileBackend } from '../../agent/backends/file/index.js';
import { emptyTempDir, rejectionOf } from '../fixtures/file/test-store.js';
import { buildTestApp } from '../helpers/broker-app.js';

const VOLUME_BYTES = 512 * 1024;
const NEW_VALUE = `new value that does not fit ${'x'.repeat(16_000)}`;

function mountSkipReason(): string | undefined {
  if (process.getuid?.() === 0) return undefined;
  // CI runs as root: there, a test that cannot mount is a failure, not a skip.
  return process.env.CI === 'true' ? undefined : 'mounting a small tmpfs needs root';
}

/** A store on its own small tmpfs, unmounted when the test ends. */
async function storeOnSmallVolume(t: Test): Promise<{ dir: string; volume: string; backend: SecretBackend }> {
  const volume = join(await emptyTempDir(t), 'volume');
  await mkdir(volume);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${VOLUME_BYTES}`, 'tmpfs', volume]);
  t.teardown(() => execFileSync('umount', ['-l', volume]));
  const dir = join(volume, 'store');
  const backend = await createFileBackend({
    dir,
    keyFile: join(volume, 'store.key'),
    versionsKept: 3,
    recoveryWindowDays: 7,
  });
  t.teardown(() => backend.close());
  return { dir, volume, backend };
}

/** Fills the volume to the last byte with one file, and returns its path. */
async function filledUp(volume: string): Promise<string> {
  const filler = join(volume, 'filler');
  // Whole pages first, then single bytes for what is left of the last one.
  for (const size of [4096, 1]) {
    const chunk = Buffer.alloc(size, 1);
    for (;;) {
      try {
        await appendFile(filler, chunk);
      } catch {
        break;
      }
    }
  }
  return filler;
}

t.test(
  'on a full volume a write fails with a clear error, keeps the old value and leaves no temp file',
  { skip: mountSkipReason() },
  async (t) => {
    // Prepare
    const { dir, volume, backend } = await storeOnSmallVolume(t);
    await backend.create({ id: 'prod/db', value: 'old value', encoding: 'utf8' });
    const filler = await filledUp(volume);

    // Act
    const failure = await rejectionOf(backend.put('prod/db', { value: NEW_VALUE, encoding: 'utf8' }));

    // Assess
    t.match(failure, {
      code: 'backend_unavailable',
      message: `file store could not update secret 'prod/db': no space is left on the volume of the store directory '${dir}' (ENOSPC)`,
    });
    t.notMatch(String((failure as Error).message), /new value|old value/, 'no value in the message');
    t.equal((await backend.get('prod/db', undefined)).value, 'old value');
    t.same(
      (await readdir(dir)).filter((name) => name.endsWith('.tmp')),
      [],
      'no temp file left',
    );

    // Act: space comes back
    await rm(filler);
    const updated = await backend.put('prod/db', { value: NEW_VALUE, encoding: 'utf8' });

    // Assess
    t.equal(updated.version, '2');
    t.equal((await backend.get('prod/db', undefined)).value, NEW_VALUE);
  },
);

t.test(
  'over HTTP a full volume is 503 on writes, while reads and /readyz stay 200 and the metric counts the failures',
  { skip: mountSkipReason() },
  async (t) => {
    // Prepare
    const { dir, volume, backend } = await storeOnSmallVolume(t);
    const { call, close } = await buildTestApp(backend, { cacheTtlMs: 0 });
    t.teardown(close);
    await call({ method: 'POST', url: '/secrets', body: { id: 'prod/db', value: 'old value' } });
    await filledUp(volume);

    // Act
    const write = await call({ method: 'PUT', url: '/secrets/prod/db', body: { value: NEW_VALUE } });
    const read = await call({ method: 'GET', url: '/secrets/prod/db' });
    const ready = await call({ method: 'GET', url: '/readyz' });
    const metrics = await call({ method: 'GET', url: '/metrics' });

    // Assess
    t.equal(write.statusCode, 503);
    t.match(write.json(), {
      code: 'backend_unavailable',
      detail: new RegExp(`no space is left .*'${dir}' \\(ENOSPC\\)`),
    });
    t.ok(write.headers['retry-after'], 'the caller is told when to try again');
    t.equal(read.statusCode, 200);
    t.equal(read.json().value, 'old value');
    t.equal(ready.statusCode, 200, 'a full volume is a write-side problem: reads still serve the app');
    t.match(
      metrics.body,
      /secrets_broker_backend_calls_total\{backend="file",operation="put",outcome="backend_unavailable"\} [1-9]/,
    );
  },
);
