import { readdir, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { openTestStore, readAllFiles, rejectionOf } from '../fixtures/file/test-store.js';

/** The record files of a store: everything except the store check file. */
async function recordFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith('.rec'));
}

t.test('no value, id, description or tag appears in plain text in any file under the store', async (t) => {
  // Prepare
  const { backend, root } = await openTestStore(t, { versionsKept: 2 });
  const binary = Buffer.from('binary-plaintext-\u0000\u00ff-marker', 'latin1');
  const values = [
    'plain-value-alpha-7731',
    'updated-value-beta-4410',
    'pruned-value-gamma-9902',
    'x'.repeat(4096) + 'q',
  ];
  const visible = ['ids-are-private/db', 'description-delta-5521', 'tag-key-epsilon', 'tag-value-zeta-1209'];

  // Act
  await backend.create({
    id: 'ids-are-private/db',
    value: values[2]!,
    encoding: 'utf8',
    description: 'description-delta-5521',
    tags: { 'tag-key-epsilon': 'tag-value-zeta-1209' },
  });
  await backend.put('ids-are-private/db', { value: values[0]!, encoding: 'utf8' });
  await backend.put('ids-are-private/db', { value: values[1]!, encoding: 'utf8' });
  await backend.create({ id: 'long', value: values[3]!, encoding: 'utf8' });
  await backend.create({ id: 'binary', value: binary.toString('base64'), encoding: 'base64' });
  await backend.create({ id: 'deleted', value: 'deleted-value-eta-3318', encoding: 'utf8' });
  await backend.delete('deleted', { force: false });
  await backend.close();

  // Assess
  const needles = [...values, 'deleted-value-eta-3318', binary.toString('base64'), ...visible].map((s) =>
    Buffer.from(s, 'utf8'),
  );
  needles.push(binary);
  const files = await readAllFiles(root);
  t.ok(files.length >= 5, 'the store wrote its files');
  for (const { path, bytes } of files) {
    for (const needle of needles) t.notOk(bytes.includes(needle), `${path} does not contain a plaintext marker`);
    t.notMatch(path, /ids-are-private|deleted|binary|long/, 'file names do not reveal ids');
  }
});

t.test('record files and the store directory are private to the owner, and no temp file is left', async (t) => {
  // Prepare
  const { backend, dir } = await openTestStore(t);

  // Act
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  await backend.put('a', { value: 'two', encoding: 'utf8' });

  // Assess
  t.equal((await stat(dir)).mode & 0o777, 0o700);
  const names = await readdir(dir);
  t.same(
    names.filter((name) => name.endsWith('.tmp')),
    [],
  );
  for (const name of names) t.equal((await stat(join(dir, name))).mode & 0o077, 0, `${name} is owner-only`);
});

t.test('a tampered record file is a backend_error naming the id, never the value', async (t) => {
  // Prepare
  const { backend, dir } = await openTestStore(t);
  await backend.create({ id: 'prod/db', value: 'tamper-target-value', encoding: 'utf8' });
  const [file] = await recordFiles(dir);
  const bytes = await readFile(join(dir, file!));
  bytes[bytes.length - 20]! ^= 0x01;
  await writeFile(join(dir, file!), bytes);

  // Act
  const failure = await rejectionOf(backend.get('prod/db', undefined));

  // Assess
  t.match(failure, { name: 'SecretError', code: 'backend_error', message: /prod\/db/ });
  t.notMatch((failure as Error).message, /tamper-target-value/);
});

t.test('a record file moved under another id fails to decrypt instead of answering for it', async (t) => {
  // Prepare: swap the records of two secrets on disk
  const { backend, dir } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'value-of-a', encoding: 'utf8' });
  const [fileOfA] = await recordFiles(dir);
  await backend.create({ id: 'b', value: 'value-of-b', encoding: 'utf8' });
  const fileOfB = (await recordFiles(dir)).find((name) => name !== fileOfA)!;
  await rename(join(dir, fileOfA!), join(dir, 'swap'));
  await rename(join(dir, fileOfB), join(dir, fileOfA!));
  await rename(join(dir, 'swap'), join(dir, fileOfB));

  // Act
  const failure = await rejectionOf(backend.get('a', undefined));

  // Assess
  t.match(failure, { code: 'backend_error', message: /secret 'a'.*cannot be decrypted/ });
});

t.test('a damaged record file makes listing fail with backend_error', async (t) => {
  // Prepare
  const { backend, dir } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  const [file] = await recordFiles(dir);
  await writeFile(join(dir, file!), Buffer.from('not a record'));
  const fresh = await rejectionOf(backend.listPage({ pageSize: 10 }));

  // Act
  const other = await openTestStore(t);
  await writeFile(join(other.dir, file!), Buffer.from('not a record'));
  const atScan = await rejectionOf(other.backend.listPage({ pageSize: 10 }));

  // Assess
  t.match(fresh, { code: 'backend_error' });
  t.match(atScan, { code: 'backend_error', message: new RegExp(file!) });
});

t.test('a damaged record keeps neither the store from opening nor other secrets from being read', async (t) => {
  // Prepare
  const { backend, dir, reopen } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  const [damaged] = await recordFiles(dir);
  await backend.create({ id: 'b', value: 'two', encoding: 'utf8' });
  await writeFile(join(dir, damaged!), Buffer.from('not a record'));

  // Act: a broker starting on this store
  const restarted = await reopen();
  const other = await restarted.get('b', undefined);
  const listing = await rejectionOf(restarted.listPage({ pageSize: 10 }));

  // Assess
  t.equal(other.value, 'two', 'the intact secret reads as before');
  t.match(listing, { code: 'backend_error', message: new RegExp(damaged!) }, 'the first listing meets the damage');
});

t.test('opening the store removes abandoned temp files but leaves recent ones', async (t) => {
  // Prepare
  const { dir, clock, reopen } = await openTestStore(t);
  const nowSeconds = clock.now().getTime() / 1000;
  const abandoned = join(dir, '.x.rec.aaaa.tmp');
  const recent = join(dir, '.y.rec.bbbb.tmp');
  await writeFile(abandoned, 'ciphertext');
  await writeFile(recent, 'ciphertext');
  await utimes(abandoned, nowSeconds - 3600, nowSeconds - 3600);
  await utimes(recent, nowSeconds - 60, nowSeconds - 60);

  // Act
  await reopen();

  // Assess
  const names = await readdir(dir);
  t.notOk(names.includes('.x.rec.aaaa.tmp'));
  t.ok(names.includes('.y.rec.bbbb.tmp'));
});
