import t from 'tap';
import type { SecretBackend, SecretMetadata } from '../../agent/backends/contract.js';
import { openTestStore, rejectionOf } from '../fixtures/file/test-store.js';

/** Follows `nextCursor` to the end and returns every page's ids. */
async function allPages(backend: SecretBackend, pageSize: number, prefix?: string): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await backend.listPage({ pageSize, ...(prefix ? { prefix } : {}), ...(cursor ? { cursor } : {}) });
    pages.push(page.items.map((item) => item.id));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return pages;
}

async function createAll(backend: SecretBackend, ids: string[]): Promise<void> {
  for (const id of ids) await backend.create({ id, value: `value of ${id}`, encoding: 'utf8' });
}

t.test('listing returns live secrets sorted by id, paged by cursor, with no cursor after the last page', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  await createAll(backend, ['prod/b', 'dev/a', 'prod/a', 'prod/c', 'dev/b']);

  // Act
  const pages = await allPages(backend, 2);
  const exact = await allPages(backend, 5);

  // Assess
  t.same(pages, [['dev/a', 'dev/b'], ['prod/a', 'prod/b'], ['prod/c']]);
  t.same(exact, [['dev/a', 'dev/b', 'prod/a', 'prod/b', 'prod/c']]);
});

t.test('a prefix narrows the listing', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  await createAll(backend, ['prod/b', 'dev/a', 'prod/a', 'production']);

  // Act
  const pages = await allPages(backend, 1, 'prod/');

  // Assess
  t.same(pages, [['prod/a'], ['prod/b']]);
});

t.test('listing carries metadata but never values, and skips secrets pending deletion', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8', description: 'd', tags: { k: 'v' } });
  await backend.put('a', { value: 'two', encoding: 'utf8' });
  await createAll(backend, ['b', 'c']);
  await backend.delete('b', { force: false });
  await backend.delete('c', { force: true });

  // Act
  const page = await backend.listPage({ pageSize: 10 });

  // Assess
  t.equal(page.items.length, 1);
  const [item] = page.items as [SecretMetadata & { value?: string }];
  t.match(item, { id: 'a', version: '2', encoding: 'utf8', description: 'd', tags: { k: 'v' } });
  t.notOk('value' in item);
  t.equal(page.nextCursor, undefined);
});

t.test('no next cursor is offered when only secrets pending deletion follow the page', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  await createAll(backend, ['a', 'b', 'c']);
  await backend.delete('c', { force: false });

  // Act
  const page = await backend.listPage({ pageSize: 2 });

  // Assess
  t.same(
    page.items.map((item) => item.id),
    ['a', 'b'],
  );
  t.equal(page.nextCursor, undefined);
});

t.test('changing a listed item does not change the store index', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8', tags: { k: 'v' } });
  const first = await backend.listPage({ pageSize: 10 });

  // Act
  first.items[0]!.tags!['k'] = 'changed';
  first.items[0]!.version = '99';

  // Assess
  const second = await backend.listPage({ pageSize: 10 });
  t.match(second.items[0], { version: '1', tags: { k: 'v' } });
});

t.test('a cursor that is not one of ours is invalid_request', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);

  // Act
  const failure = await rejectionOf(backend.listPage({ pageSize: 10, cursor: '!!not base64url!!' }));

  // Assess
  t.match(failure, { code: 'invalid_request' });
});

t.test('two backends sharing one directory see each other’s creates, updates and deletes', async (t) => {
  // Prepare: both have listed once, so both have a warm index
  const { backend: first, reopen } = await openTestStore(t);
  const second = await reopen();
  await createAll(first, ['a', 'b', 'c']);
  t.same(
    (await second.listPage({ pageSize: 10 })).items.map((item) => item.id),
    ['a', 'b', 'c'],
  );

  // Act
  await second.put('a', { value: 'two', encoding: 'utf8', description: 'from second' });
  await second.delete('b', { force: false });
  await second.delete('c', { force: true });
  await second.create({ id: 'd', value: 'new', encoding: 'utf8' });

  // Assess
  const page = await first.listPage({ pageSize: 10 });
  t.same(
    page.items.map((item) => [item.id, item.version, item.description]),
    [
      ['a', '2', 'from second'],
      ['d', '1', undefined],
    ],
  );
  t.equal((await first.get('a', undefined)).value, 'two');
  t.equal((await first.describe('b')).pendingDeletion, true);
  await t.rejects(first.describe('c'), { code: 'not_found' });
});

t.test('paging through 150 secrets returns each exactly once, in order', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  const ids = Array.from({ length: 150 }, (_, i) => `bulk/${String(i).padStart(3, '0')}`);
  await createAll(backend, ids);

  // Act
  const pages = await allPages(backend, 40);

  // Assess
  t.same(
    pages.map((page) => page.length),
    [40, 40, 40, 30],
  );
  t.same(pages.flat(), ids);
});

t.test('two backends creating one id at once: exactly one wins, the other gets already_exists', async (t) => {
  // Prepare
  const { backend: first, reopen } = await openTestStore(t);
  const second = await reopen();

  // Act
  const outcomes = await Promise.allSettled(
    Array.from({ length: 8 }, (_, i) =>
      (i % 2 === 0 ? first : second).create({ id: 'race', value: `writer ${i}`, encoding: 'utf8' }),
    ),
  );

  // Assess
  const won = outcomes.filter((o) => o.status === 'fulfilled');
  const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  t.equal(won.length, 1);
  for (const o of lost) t.match(o.reason, { code: 'already_exists' });
  t.equal((await first.describe('race')).version, '1');
});
