import { copyFile, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { createFileBackend } from '../../agent/backends/file/index.js';
import { deriveStoreKeys } from '../../agent/backends/file/key-material.js';
import { recordFileName } from '../../agent/backends/file/record-codec.js';
import { emptyTempDir, openTestStore, rejectionOf } from '../fixtures/file/test-store.js';

const BASE64_KEY = `${Buffer.alloc(32, 7).toString('base64')}\n`;

function openStore(dir: string, keyFile: string) {
  return createFileBackend({ dir, keyFile, versionsKept: 3, recoveryWindowDays: 7 });
}

t.test('a dangling symbolic link at the key file path is refused, naming it, and nothing is created', async (t) => {
  // Prepare: the link points where a new key could be written.
  const root = await emptyTempDir(t);
  const keyFile = join(root, 'store.key');
  await symlink(join(root, 'planted.key'), keyFile);

  // Act
  const failure = await rejectionOf(openStore(join(root, 'store'), keyFile));

  // Assess
  t.match(failure, { code: 'backend_error', message: `file store path '${keyFile}' is a symbolic link` });
  t.same((await readdir(root)).sort(), ['store.key'], 'no key written through the link, no temp file left');
});

t.test('a symbolic link at the key file path is refused even when it points at a valid key', async (t) => {
  // Prepare
  const root = await emptyTempDir(t);
  await writeFile(join(root, 'other.key'), BASE64_KEY);
  const keyFile = join(root, 'store.key');
  await symlink(join(root, 'other.key'), keyFile);

  // Act
  const failure = await rejectionOf(openStore(join(root, 'store'), keyFile));

  // Assess
  t.match(failure, { code: 'backend_error', message: /is a symbolic link/ });
});

t.test('a record file replaced by a symbolic link is refused on read and at start, naming the file', async (t) => {
  // Prepare: the record of 'a' becomes a link to a copy of itself, whose content would decrypt.
  const { backend, dir, keyFile, reopen } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'first value', encoding: 'utf8' });
  const keys = deriveStoreKeys(Buffer.from((await readFile(keyFile, 'utf8')).trim(), 'base64'));
  const record = join(dir, recordFileName(keys, 'a'));
  await copyFile(record, join(dir, 'copy'));
  await rm(record);
  await symlink(join(dir, 'copy'), record);

  // Act
  const onRead = await rejectionOf(backend.get('a', undefined));
  const onStart = await rejectionOf(reopen());

  // Assess
  t.match(onRead, { code: 'backend_error', message: `file store path '${record}' is a symbolic link` });
  t.match(onStart, { code: 'backend_error', message: `file store path '${record}' is a symbolic link` });
  t.notMatch(String((onRead as Error).message), /first value/);
});

t.test('a store check file replaced by a dangling symbolic link is refused at start', async (t) => {
  // Prepare
  const { dir, reopen } = await openTestStore(t);
  await rm(join(dir, 'store.check'));
  await symlink(join(dir, 'nowhere'), join(dir, 'store.check'));

  // Act
  const failure = await rejectionOf(reopen());

  // Assess
  t.match(failure, { code: 'backend_error', message: /store\.check' is a symbolic link/ });
});
