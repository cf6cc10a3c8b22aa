import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openTestStore } from '../fixtures/file/test-store.js';

const WRITER = fileURLToPath(new URL('../fixtures/file/store-writer-process.ts', import.meta.url));

/** Runs the writer fixture in a separate Node process (with this process's loader flags) and waits for it. */
function runWriterProcess(dir: string, keyFile: string, ops: unknown[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...process.execArgv, WRITER, dir, keyFile, JSON.stringify(ops)],
      { timeout: 60_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`writer process failed: ${stderr}`, { cause: err })) : resolve(stdout),
    );
  });
}

t.test('writes made by another process are seen at once by get, describe and listPage', async (t) => {
  // Prepare: this process has listed already, so its index is warm
  const { backend, dir, keyFile } = await openTestStore(t, { now: () => new Date() });
  await backend.create({ id: 'shared/a', value: 'one', encoding: 'utf8' });
  await backend.create({ id: 'shared/b', value: 'one', encoding: 'utf8' });
  t.equal((await backend.listPage({ pageSize: 10 })).items.length, 2);

  // Act
  const output = await runWriterProcess(dir, keyFile, [
    { op: 'put', id: 'shared/a', value: 'from the other process' },
    { op: 'delete', id: 'shared/b', force: false },
    { op: 'create', id: 'shared/c', value: 'created elsewhere' },
  ]);

  // Assess
  t.equal(output, 'done\n');
  t.equal((await backend.get('shared/a', undefined)).value, 'from the other process');
  t.equal((await backend.describe('shared/b')).pendingDeletion, true);
  const listed = (await backend.listPage({ pageSize: 10 })).items.map((item) => [item.id, item.version]);
  t.same(listed, [
    ['shared/a', '2'],
    ['shared/c', '1'],
  ]);
});

t.test('two processes writing different secrets at the same time lose none of them', async (t) => {
  // Prepare
  const { backend, dir, keyFile } = await openTestStore(t, { now: () => new Date() });
  const theirs = Array.from({ length: 20 }, (_, i) => ({ op: 'create', id: `theirs/${i}`, value: `t${i}` }));

  // Act
  const [output] = await Promise.all([
    runWriterProcess(dir, keyFile, theirs),
    (async () => {
      for (let i = 0; i < 20; i++) await backend.create({ id: `ours/${i}`, value: `o${i}`, encoding: 'utf8' });
    })(),
  ]);

  // Assess
  t.equal(output, 'done\n');
  const page = await backend.listPage({ pageSize: 100 });
  t.equal(page.items.filter((item) => item.id.startsWith('theirs/')).length, 20);
  t.equal(page.items.filter((item) => item.id.startsWith('ours/')).length, 20);
});
