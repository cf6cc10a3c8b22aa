/**
 * Lists over large file stores: a listing examines a bounded number of ids per request and answers
 * early with a cursor (fewer items than asked for, as the API allows), following the cursors still
 * lists every match exactly once, and only a few listings scan at once.
 */
import { utimes } from 'node:fs/promises';
import t, { type Test } from 'tap';
import type { SecretBackend } from '../../agent/backends/contract.js';
import { ScanQueue } from '../../agent/backends/file/scan-pacing.js';
import { compileListFilter } from '../../agent/broker/id-filter.js';
import { listSecrets } from '../../agent/broker/secret-lister.js';
import { openTestStore } from '../fixtures/file/test-store.js';

const IDS = Array.from({ length: 45 }, (_, i) => `bulk/${String(i).padStart(3, '0')}`);
/** No literal prefix: the store cannot narrow it, every id must be examined. */
const FILTER = '[05]$';
const MATCHING = IDS.filter((id) => /[05]$/.test(id));

async function storeWithIds(t: Test, budgetIds: number): Promise<SecretBackend> {
  const { backend } = await openTestStore(t, { listScan: { budgetIds } });
  for (const id of IDS) await backend.create({ id, value: `value of ${id}`, encoding: 'utf8' });
  return backend;
}

t.test(
  'a backend listing that spends its budget answers early with a cursor, and the cursors reach every match once',
  async (t) => {
    // Prepare: a budget of 10 ids per listing over 45 ids.
    const backend = await storeWithIds(t, 10);
    const match = compileListFilter(FILTER).test;
    const pages: { ids: string[]; truncated: boolean }[] = [];

    // Act
    let cursor: string | undefined;
    do {
      const page = await backend.listPage({ pageSize: 4, match, ...(cursor ? { cursor } : {}) });
      pages.push({ ids: page.items.map((item) => item.id), truncated: page.truncated === true });
      cursor = page.nextCursor;
    } while (cursor !== undefined);

    // Assess
    t.same(
      pages.flatMap((page) => page.ids),
      MATCHING,
      'every match, once, in order',
    );
    t.ok(
      pages.some((page) => page.truncated && page.ids.length < 4),
      'some page was cut short by the budget',
    );
    t.ok(pages.length >= 45 / 10, 'no listing examined more than its budget');
  },
);

t.test(
  'through the broker lister, a sparse filter over a large store answers pages shorter than the limit, with a cursor, until every match is listed',
  async (t) => {
    // Prepare
    const backend = await storeWithIds(t, 10);
    const responses: { ids: string[]; cursor: string | undefined }[] = [];

    // Act
    let cursor: string | undefined;
    do {
      const result = await listSecrets((query, options) => backend.listPage(query, options), {
        filter: FILTER,
        limit: 5,
        ...(cursor ? { cursor } : {}),
      });
      responses.push({ ids: result.items.map((item) => item.id), cursor: result.nextCursor });
      cursor = result.nextCursor;
    } while (cursor !== undefined);

    // Assess
    t.same(
      responses.flatMap((response) => response.ids),
      MATCHING,
    );
    t.ok(
      responses.some((response) => response.ids.length < 5 && response.cursor !== undefined),
      'a response with fewer items than the limit still carries a cursor',
    );
  },
);

t.test('without a filter, a listing within its budget pages exactly as before', async (t) => {
  // Prepare
  const backend = await storeWithIds(t, 1000);

  // Act
  const first = await backend.listPage({ pageSize: 40 });
  const second = await backend.listPage({ pageSize: 40, cursor: first.nextCursor as string });

  // Assess
  t.same(
    first.items.map((item) => item.id),
    IDS.slice(0, 40),
  );
  t.notOk(first.truncated);
  t.same(
    second.items.map((item) => item.id),
    IDS.slice(40),
  );
  t.equal(second.nextCursor, undefined);
});

t.test('on a quiet store a listing still sees records another process created or removed since', async (t) => {
  // Prepare: a store whose directory last changed an hour ago, listed once, so the listing may
  // rely on the directory's stamps rather than read every name again.
  const { backend, dir, reopen } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  await backend.create({ id: 'b', value: 'two', encoding: 'utf8' });
  const anHourAgo = new Date(Date.now() - 3_600_000);
  await utimes(dir, anHourAgo, anHourAgo);
  const other = await reopen();
  const before = await backend.listPage({ pageSize: 10 });

  // Act
  await other.create({ id: 'c', value: 'three', encoding: 'utf8' });
  await other.delete('a', { force: true });
  const after = await backend.listPage({ pageSize: 10 });

  // Assess
  t.same(
    before.items.map((item) => item.id),
    ['a', 'b'],
  );
  t.same(
    after.items.map((item) => item.id),
    ['b', 'c'],
  );
});

t.test('scans beyond the concurrency bound wait, and start in arrival order as others finish', async (t) => {
  // Prepare: three scans that each finish only when the test says so, two allowed at once.
  const queue = new ScanQueue(2);
  const started: number[] = [];
  const finishers: Array<() => void> = [];
  const scan = (n: number) =>
    queue.run(async () => {
      started.push(n);
      await new Promise<void>((resolve) => finishers.push(resolve));
      return n;
    });

  // Act
  const results = [scan(1), scan(2), scan(3)];
  await new Promise((resolve) => setImmediate(resolve));
  const startedAtFirst = [...started];
  const waitingAtFirst = queue.waiting;
  finishers[0]?.();
  await results[0];
  await new Promise((resolve) => setImmediate(resolve));
  const startedAfterOne = [...started];
  for (const finish of finishers.slice(1)) finish();

  // Assess
  t.same(startedAtFirst, [1, 2], 'only two run at once');
  t.equal(waitingAtFirst, 1, 'the third waits');
  t.same(startedAfterOne, [1, 2, 3], 'the third starts when one finishes');
  t.same(await Promise.all(results), [1, 2, 3]);
  t.equal(queue.running, 0);
});

t.test('a listing whose caller gave up is not scanned: it ends with backend_timeout', async (t) => {
  // Prepare
  const backend = await storeWithIds(t, 1000);
  const controller = new AbortController();
  controller.abort(new Error('attempt timed out'));

  // Act
  const failure = await backend.listPage({ pageSize: 10 }, { signal: controller.signal }).then(
    () => undefined,
    (err: unknown) => err,
  );

  // Assess
  t.match(failure, { code: 'backend_timeout' });
});
