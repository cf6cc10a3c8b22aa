/** Restore on the file store: a recoverable delete is a mark on the record, and restore drops it. */
import { readdir } from 'node:fs/promises';
import t from 'tap';
import { openTestStore, rejectionOf } from '../fixtures/file/test-store.js';

t.test('restore within the recovery window brings back every kept version, also for another process', async (t) => {
  // Prepare
  const { backend, clock, reopen } = await openTestStore(t, { recoveryWindowDays: 7 });
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8', description: 'd' });
  await backend.put('a', { value: 'two', encoding: 'utf8' });
  await backend.delete('a', { force: false });
  clock.advanceDays(6);

  // Act
  const restored = await backend.restore('a');
  const other = await reopen();

  // Assess
  t.match(restored, { id: 'a', version: '2', description: 'd' });
  t.equal((await backend.get('a', undefined)).value, 'two');
  t.equal((await backend.get('a', '1')).value, 'one', 'the previous version is kept too');
  t.notOk((await other.describe('a')).pendingDeletion, 'another instance over the directory sees it live');
  t.same(
    (await backend.listPage({ pageSize: 10 })).items.map((item) => item.id),
    ['a'],
    'listed again',
  );
});

t.test('restore of a live secret changes nothing and answers its metadata', async (t) => {
  const { backend } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  t.match(await backend.restore('a'), { id: 'a', version: '1' });
  t.equal((await backend.get('a', undefined)).value, 'one');
});

t.test('restore after the recovery window is not_found and purges the record', async (t) => {
  // Prepare
  const { backend, clock, dir } = await openTestStore(t, { recoveryWindowDays: 1 });
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  await backend.delete('a', { force: false });
  clock.advanceDays(2);

  // Act
  const late = await rejectionOf(backend.restore('a'));

  // Assess
  t.match(late, { code: 'not_found' });
  t.match(await rejectionOf(backend.restore('never')), { code: 'not_found' });
  t.same(
    (await readdir(dir)).filter((name) => name.endsWith('.rec')),
    [],
  );
});
