import { randomBytes } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { createFileBackend } from '../../agent/backends/file/index.js';
import { emptyTempDir, openTestStore, rejectionOf } from '../fixtures/file/test-store.js';

const settings = { versionsKept: 3, recoveryWindowDays: 7 };

t.test('a missing key file is generated with mode 0600 and a 32-byte base64 key', async (t) => {
  // Prepare
  const root = await emptyTempDir(t);
  const keyFile = join(root, 'nested', 'store.key');

  // Act
  const backend = await createFileBackend({ dir: join(root, 'store'), keyFile, ...settings });
  t.teardown(() => backend.close());

  // Assess
  const info = await stat(keyFile);
  t.equal(info.mode & 0o777, 0o600);
  const text = await readFile(keyFile, 'utf8');
  t.match(text, /^[A-Za-z0-9+/]{43}=\n$/);
  t.equal(Buffer.from(text.trim(), 'base64').length, 32);
  t.equal((await stat(join(root, 'store'))).mode & 0o777, 0o700);
});

t.test('an existing key file is reused, so a restart opens the same store', async (t) => {
  // Prepare
  const { backend, keyFile, reopen } = await openTestStore(t);
  const keyBefore = await readFile(keyFile);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  await backend.close();

  // Act
  const restarted = await reopen();

  // Assess
  t.same(await readFile(keyFile), keyBefore);
  t.equal((await restarted.get('a', undefined)).value, 'one');
});

t.test('a key file holding 32 raw bytes is accepted', async (t) => {
  // Prepare
  const root = await emptyTempDir(t);
  const keyFile = join(root, 'raw.key');
  await writeFile(keyFile, randomBytes(32), { mode: 0o600 });

  // Act
  const backend = await createFileBackend({ dir: join(root, 'store'), keyFile, ...settings });
  t.teardown(() => backend.close());

  // Assess
  await t.resolves(backend.ready());
});

t.test('a key given in options wins over the key file, which is then not created', async (t) => {
  // Prepare
  const root = await emptyTempDir(t);
  const keyFile = join(root, 'store.key');

  // Act
  const backend = await createFileBackend({ dir: join(root, 'store'), keyFile, key: randomBytes(32), ...settings });
  t.teardown(() => backend.close());

  // Assess
  const keyFileError = await rejectionOf(stat(keyFile));
  t.match(keyFileError, { code: 'ENOENT' });
});

t.test('a key file of the wrong size is refused at start with a message naming it', async (t) => {
  // Prepare
  const root = await emptyTempDir(t);
  const keyFile = join(root, 'short.key');
  await writeFile(keyFile, 'too short\n', { mode: 0o600 });

  // Act
  const failure = await rejectionOf(createFileBackend({ dir: join(root, 'store'), keyFile, ...settings }));

  // Assess
  t.match(failure, { name: 'SecretError', code: 'internal', message: /short\.key.*32-byte key/ });
});

t.test('a key option of the wrong size is refused at start', async (t) => {
  // Prepare
  const root = await emptyTempDir(t);

  // Act
  const failure = await rejectionOf(
    createFileBackend({ dir: join(root, 'store'), keyFile: join(root, 'k'), key: randomBytes(16), ...settings }),
  );

  // Assess
  t.match(failure, { code: 'internal', message: /32 bytes/ });
});

t.test('opening a store with another key fails with a clear error', async (t) => {
  // Prepare
  const { backend, dir, root } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  await backend.close();

  // Act
  const failure = await rejectionOf(
    createFileBackend({ dir, keyFile: join(root, 'other.key'), key: randomBytes(32), ...settings }),
  );

  // Assess
  t.match(failure, { name: 'SecretError', code: 'backend_error', message: /key does not open the store/ });
});

t.test('processes starting together on a new store agree on one generated key', async (t) => {
  // Prepare
  const root = await emptyTempDir(t);
  const options = { dir: join(root, 'store'), keyFile: join(root, 'store.key'), ...settings };

  // Act
  const backends = await Promise.all(Array.from({ length: 6 }, () => createFileBackend(options)));
  for (const backend of backends) t.teardown(() => backend.close());
  await backends[0]!.create({ id: 'shared', value: 'one', encoding: 'utf8' });

  // Assess
  for (const backend of backends) t.equal((await backend.get('shared', undefined)).value, 'one');
  t.equal((await stat(options.keyFile)).mode & 0o777, 0o600);
});

t.test('ready fails with backend_error when the store check no longer opens with the key', async (t) => {
  // Prepare: the store is re-initialised under another key while this backend runs
  const { backend, dir, root } = await openTestStore(t);
  await rm(join(dir, 'store.check'));
  const other = await createFileBackend({ dir, keyFile: join(root, 'other.key'), key: randomBytes(32), ...settings });
  t.teardown(() => other.close());

  // Act
  const failure = await rejectionOf(backend.ready());

  // Assess
  t.match(failure, { code: 'backend_error', message: /key does not open the store/ });
});

t.test('ready fails with backend_unavailable when the store directory is gone', async (t) => {
  // Prepare
  const { backend, dir } = await openTestStore(t);
  await rm(dir, { recursive: true });

  // Act
  const failure = await rejectionOf(backend.ready());

  // Assess
  t.match(failure, { code: 'backend_unavailable' });
});
