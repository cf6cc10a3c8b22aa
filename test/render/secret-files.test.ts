/**
 * Rendered files: the sidecar writes each secret to its file atomically, with the mode asked for,
 * and rewrites it when the secret changes here or through another broker sharing the lock volume.
 */
import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { contentOf, eventually, renderFixture } from './render-fixture.js';

t.test('a reader polling the file during 200 writes only ever sees a complete value', async (t) => {
  // Prepare: values of distinct lengths, so a partial read cannot pass for another value
  const { broker: newBroker, render, outDir } = await renderFixture(t);
  const broker = await newBroker();
  const values = Array.from({ length: 201 }, (_, i) => `v${i}-${'x'.repeat(i)}`);
  const allowed = new Set(values);
  await broker.create({ id: 'app/db', value: values[0] as string });
  const file = path.join(outDir, 'db');
  render(broker, [{ id: 'app/db', path: file, mode: 0o440 }]);
  t.ok(await eventually(async () => (await contentOf(file)) === values[0]), 'the first value is written');
  const seen: string[] = [];
  let reading = true;
  const reader = (async () => {
    while (reading) {
      seen.push(await readFile(file, 'utf8'));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();

  // Act
  for (const value of values.slice(1)) await broker.update('app/db', { value });
  const last = values[200] as string;
  const caughtUp = await eventually(async () => (await contentOf(file)) === last);
  reading = false;
  await reader;

  // Assess
  t.ok(caughtUp, 'the file ends on the last value');
  t.same(
    seen.filter((text) => !allowed.has(text)),
    [],
    `none of ${seen.length} reads saw an empty or partial file`,
  );
  t.ok(new Set(seen).size > 1, 'the reader saw the file change while it read');
  t.same(
    (await readdir(outDir)).filter((name) => name !== 'db'),
    [],
    'no temp file is left',
  );
});

t.test('a rendered file has mode 0440 unless its entry gives another; binary values are raw bytes', async (t) => {
  // Prepare
  const { broker: newBroker, render, outDir } = await renderFixture(t);
  const broker = await newBroker();
  const bytes = Buffer.from([0, 255, 10, 13, 128, 1]);
  await broker.create({ id: 'app/text', value: 'plain text' });
  await broker.create({ id: 'app/key', value: bytes.toString('base64'), encoding: 'base64' });
  const text = path.join(outDir, 'text');
  const key = path.join(outDir, 'key');

  // Act
  const files = render(broker, [
    { id: 'app/text', path: text, mode: 0o440 },
    { id: 'app/key', path: key, mode: 0o600 },
  ]);
  const written = await eventually(() => files.pending === 0);

  // Assess
  t.ok(written, 'both files are written');
  t.equal((await stat(text)).mode & 0o777, 0o440);
  t.equal((await stat(key)).mode & 0o777, 0o600);
  t.equal(await readFile(text, 'utf8'), 'plain text');
  t.same(await readFile(key), bytes, 'the decoded bytes, not their base64');
});

t.test('a write through a second broker sharing the lock directory rewrites the file', async (t) => {
  // Prepare: the renderer's broker caches the value and polls its store only every 10 minutes
  const { broker: newBroker, render, outDir } = await renderFixture(t);
  const sidecar = await newBroker();
  const other = await newBroker();
  await sidecar.create({ id: 'app/db', value: 'first' });
  const file = path.join(outDir, 'db');
  render(sidecar, [{ id: 'app/db', path: file, mode: 0o440 }]);
  t.ok(await eventually(async () => (await contentOf(file)) === 'first'), 'the first value is written');

  // Act
  await other.update('app/db', { value: 'second, written elsewhere' });

  // Assess: the version marker on the lock volume is the only way this broker can learn of it
  t.ok(await eventually(async () => (await contentOf(file)) === 'second, written elsewhere'), 'rewritten');
});

t.test('a render path that is a symbolic link is refused and its target left alone', async (t) => {
  // Prepare
  const { broker: newBroker, render, outDir, root, logText } = await renderFixture(t);
  const broker = await newBroker();
  await broker.create({ id: 'app/db', value: 'do-not-leak-0451' });
  const elsewhere = path.join(root, 'elsewhere');
  await writeFile(elsewhere, 'untouched');
  const link = path.join(outDir, 'db');
  await symlink(elsewhere, link);

  // Act
  const files = render(broker, [{ id: 'app/db', path: link, mode: 0o440 }]);
  const refused = await eventually(() => logText().includes('ESYMLINK'));

  // Assess
  t.ok(refused, 'the log says why');
  t.equal(await readFile(elsewhere, 'utf8'), 'untouched', 'the link target is not written');
  t.ok((await lstat(link)).isSymbolicLink(), 'the link stays');
  t.equal(files.pending, 1, 'the render is still pending');
  t.notMatch(logText(), 'do-not-leak-0451', 'no value in the log');
});

t.test('a secret deleted after it was rendered leaves the last value in its file', async (t) => {
  // Prepare
  const { broker: newBroker, render, outDir, logText } = await renderFixture(t);
  const broker = await newBroker();
  await broker.create({ id: 'app/db', value: 'last-known-value' });
  const file = path.join(outDir, 'db');
  const files = render(broker, [{ id: 'app/db', path: file, mode: 0o440 }]);
  t.ok(await eventually(() => files.pending === 0), 'written');

  // Act
  await broker.remove('app/db', { force: true });
  const logged = await eventually(() => logText().includes('keeps the last value'));

  // Assess
  t.ok(logged, 'the failed refresh is logged');
  t.match(logText(), /"id":"app\/db".*"code":"not_found"/);
  t.equal(await readFile(file, 'utf8'), 'last-known-value', 'the file is neither emptied nor removed');
  t.equal(files.pending, 0, 'the broker stays ready: the file was written once');
  t.notMatch(logText(), 'last-known-value', 'no value in the log');
});

t.test('temp files a killed writer left are removed; a render path that is a directory is refused', async (t) => {
  // Prepare
  const { broker: newBroker, render, outDir, logText } = await renderFixture(t);
  const broker = await newBroker();
  await broker.create({ id: 'app/db', value: 'v1' });
  await broker.create({ id: 'app/dir', value: 'v2' });
  await writeFile(path.join(outDir, '.db.0123456789ab.tmp'), 'half');
  await writeFile(path.join(outDir, '.db.mine'), 'not ours');
  await mkdir(path.join(outDir, 'taken'));

  // Act
  render(broker, [
    { id: 'app/db', path: path.join(outDir, 'db'), mode: 0o440 },
    { id: 'app/dir', path: path.join(outDir, 'taken'), mode: 0o440 },
  ]);
  const settled = await eventually(
    async () => (await contentOf(path.join(outDir, 'db'))) === 'v1' && logText().includes('EISDIR'),
  );

  // Assess
  t.ok(settled, 'the file is written and the directory refused');
  t.same((await readdir(outDir)).sort(), ['.db.mine', 'db', 'taken'], 'only the leftover temp file is gone');
});
