import { readdir } from 'node:fs/promises';
import t from 'tap';
import { storeIoError } from '../../agent/backends/file/store-files.js';
import { openTestStore, rejectionOf } from '../fixtures/file/test-store.js';

t.test('create then get returns the value with version "1" and timestamps', async (t) => {
  // Prepare
  const { backend, clock } = await openTestStore(t);

  // Act
  const created = await backend.create({
    id: 'prod/db/password',
    value: 'hunter2',
    encoding: 'utf8',
    description: 'primary db',
    tags: { team: 'core' },
  });
  const read = await backend.get('prod/db/password', undefined);

  // Assess
  const at = clock.now().toISOString();
  t.same(created, {
    id: 'prod/db/password',
    version: '1',
    encoding: 'utf8',
    description: 'primary db',
    tags: { team: 'core' },
    createdAt: at,
    updatedAt: at,
  });
  t.same(read, { ...created, value: 'hunter2' });
});

t.test('create on a live id throws already_exists', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });

  // Act
  const second = await rejectionOf(backend.create({ id: 'a', value: 'two', encoding: 'utf8' }));

  // Assess
  t.match(second, { name: 'SecretError', code: 'already_exists' });
  t.equal((await backend.get('a', undefined)).value, 'one');
});

t.test('get and describe of a missing id throw not_found', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);

  // Act
  const read = await rejectionOf(backend.get('missing', undefined));
  const described = await rejectionOf(backend.describe('missing'));

  // Assess
  t.match(read, { code: 'not_found' });
  t.match(described, { code: 'not_found' });
});

t.test('put on a missing id throws not_found', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);

  // Act
  const update = await rejectionOf(backend.put('missing', { value: 'v', encoding: 'utf8' }));

  // Assess
  t.match(update, { code: 'not_found' });
});

t.test('put adds a version and keeps description and tags the input leaves undefined', async (t) => {
  // Prepare
  const { backend, clock } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8', description: 'd', tags: { k: 'v' } });
  clock.advanceMs(1000);

  // Act
  const updated = await backend.put('a', { value: 'two', encoding: 'utf8' });
  const retagged = await backend.put('a', { value: 'three', encoding: 'utf8', description: 'e', tags: {} });

  // Assess
  t.equal(updated.version, '2');
  t.equal(updated.description, 'd');
  t.same(updated.tags, { k: 'v' });
  t.not(updated.updatedAt, updated.createdAt);
  t.equal(retagged.version, '3');
  t.equal(retagged.description, 'e');
  t.same(retagged.tags, {});
  t.equal((await backend.get('a', undefined)).value, 'three');
});

t.test('put with a stale ifVersion throws precondition_failed and changes nothing', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  await backend.put('a', { value: 'two', encoding: 'utf8' });

  // Act
  const stale = await rejectionOf(backend.put('a', { value: 'lost', encoding: 'utf8', ifVersion: '1' }));
  const current = await backend.put('a', { value: 'three', encoding: 'utf8', ifVersion: '2' });

  // Assess
  t.match(stale, { code: 'precondition_failed' });
  t.equal(current.version, '3');
  t.equal((await backend.get('a', undefined)).value, 'three');
});

t.test('get reads every kept version, and a pruned or unknown version is not_found', async (t) => {
  // Prepare: three versions kept, five written
  const { backend } = await openTestStore(t, { versionsKept: 3 });
  await backend.create({ id: 'a', value: 'v1', encoding: 'utf8' });
  for (const value of ['v2', 'v3', 'v4', 'v5']) await backend.put('a', { value, encoding: 'utf8' });

  // Act
  const kept = await Promise.all(['3', '4', '5'].map((v) => backend.get('a', v)));
  const pruned = await rejectionOf(backend.get('a', '2'));
  const unknown = await rejectionOf(backend.get('a', '6'));

  // Assess
  t.same(
    kept.map((r) => [r.version, r.value]),
    [
      ['3', 'v3'],
      ['4', 'v4'],
      ['5', 'v5'],
    ],
  );
  t.match(pruned, { code: 'not_found' });
  t.match(unknown, { code: 'not_found' });
});

t.test('base64 values round-trip unchanged and carry their encoding per version', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  const binary = Buffer.from([0, 255, 1, 254, 10, 13]).toString('base64');

  // Act
  await backend.create({ id: 'bin', value: binary, encoding: 'base64' });
  await backend.put('bin', { value: 'text now', encoding: 'utf8' });

  // Assess
  const first = await backend.get('bin', '1');
  t.equal(first.value, binary);
  t.equal(first.encoding, 'base64');
  t.equal((await backend.describe('bin')).encoding, 'utf8');
});

t.test('a recoverable delete hides the secret but describe still sees it', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });

  // Act
  await backend.delete('a', { force: false });

  // Assess
  await t.rejects(backend.get('a', undefined), { code: 'not_found' });
  await t.rejects(backend.get('a', '1'), { code: 'not_found' });
  await t.rejects(backend.put('a', { value: 'x', encoding: 'utf8' }), { code: 'not_found' });
  await t.rejects(backend.delete('a', { force: false }), { code: 'not_found' });
  t.same((await backend.listPage({ pageSize: 10 })).items, []);
  const described = await backend.describe('a');
  t.equal(described.pendingDeletion, true);
  t.equal(described.version, '1');
});

t.test('create of an id pending deletion throws pending_deletion', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  await backend.delete('a', { force: false });

  // Act
  const recreate = await rejectionOf(backend.create({ id: 'a', value: 'two', encoding: 'utf8' }));

  // Assess
  t.match(recreate, { code: 'pending_deletion' });
});

t.test('a force delete of an id pending deletion frees it, and a new create starts at version "1"', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  await backend.put('a', { value: 'two', encoding: 'utf8' });
  await backend.delete('a', { force: false });

  // Act
  await backend.delete('a', { force: true });
  const recreated = await backend.create({ id: 'a', value: 'three', encoding: 'utf8' });

  // Assess
  t.equal(recreated.version, '1');
  t.equal((await backend.get('a', undefined)).value, 'three');
  await t.rejects(backend.get('a', '2'), { code: 'not_found' });
});

t.test('a force delete of a live secret removes it at once', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });

  // Act
  await backend.delete('a', { force: true });

  // Assess
  await t.rejects(backend.describe('a'), { code: 'not_found' });
  await t.rejects(backend.delete('a', { force: true }), { code: 'not_found' });
});

t.test('delete with a stale ifVersion throws precondition_failed and keeps the secret', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  await backend.put('a', { value: 'two', encoding: 'utf8' });

  // Act
  const recoverable = await rejectionOf(backend.delete('a', { force: false, ifVersion: '1' }));
  const forced = await rejectionOf(backend.delete('a', { force: true, ifVersion: '1' }));

  // Assess
  t.match(recoverable, { code: 'precondition_failed' });
  t.match(forced, { code: 'precondition_failed' });
  t.equal((await backend.get('a', undefined)).value, 'two');
  await backend.delete('a', { force: false, ifVersion: '2' });
  t.equal((await backend.describe('a')).pendingDeletion, true);
});

t.test('after the recovery window the secret counts as gone and the id can be created again', async (t) => {
  // Prepare
  const { backend, clock } = await openTestStore(t, { recoveryWindowDays: 7 });
  await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
  await backend.delete('a', { force: false });
  clock.advanceDays(6);
  await t.rejects(backend.create({ id: 'a', value: 'early', encoding: 'utf8' }), { code: 'pending_deletion' });

  // Act
  clock.advanceDays(1);
  const gone = await rejectionOf(backend.describe('a'));
  const recreated = await backend.create({ id: 'a', value: 'two', encoding: 'utf8' });

  // Assess
  t.match(gone, { code: 'not_found' });
  t.equal(recreated.version, '1');
  t.equal((await backend.get('a', undefined)).value, 'two');
  t.notOk((await backend.describe('a')).pendingDeletion);
});

t.test('put or delete of an expired id is not_found and purges its record file', async (t) => {
  // Prepare
  const { backend, clock, dir } = await openTestStore(t, { recoveryWindowDays: 1 });
  for (const id of ['p', 'd']) {
    await backend.create({ id, value: 'one', encoding: 'utf8' });
    await backend.delete(id, { force: false });
  }
  clock.advanceDays(2);

  // Act
  const update = await rejectionOf(backend.put('p', { value: 'two', encoding: 'utf8' }));
  const removal = await rejectionOf(backend.delete('d', { force: true }));

  // Assess
  t.match(update, { code: 'not_found' });
  t.match(removal, { code: 'not_found' });
  await t.rejects(backend.describe('p'), { code: 'not_found' });
  t.same(
    (await readdir(dir)).filter((name) => name.endsWith('.rec')),
    [],
  );
});

t.test('a new backend instance over the same directory sees every secret and its state', async (t) => {
  // Prepare
  const { backend, reopen } = await openTestStore(t);
  await backend.create({ id: 'kept', value: 'one', encoding: 'utf8', tags: { a: 'b' } });
  await backend.put('kept', { value: 'two', encoding: 'utf8' });
  await backend.create({ id: 'hidden', value: 'x', encoding: 'utf8' });
  await backend.delete('hidden', { force: false });
  await backend.close();

  // Act
  const restarted = await reopen();

  // Assess
  t.equal((await restarted.get('kept', undefined)).value, 'two');
  t.equal((await restarted.get('kept', '1')).value, 'one');
  t.same((await restarted.describe('kept')).tags, { a: 'b' });
  t.equal((await restarted.describe('hidden')).pendingDeletion, true);
  t.same(
    (await restarted.listPage({ pageSize: 10 })).items.map((m) => m.id),
    ['kept'],
  );
});

t.test('a retried write with the same request token is applied once', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  const create = { id: 'a', value: 'one', encoding: 'utf8' } as const;
  await backend.create(create, { requestToken: 'req-1' });

  // Act
  const createRetry = await backend.create(create, { requestToken: 'req-1' });
  await backend.put('a', { value: 'two', encoding: 'utf8', ifVersion: '1' }, { requestToken: 'req-2' });
  const putRetry = await backend.put(
    'a',
    { value: 'two', encoding: 'utf8', ifVersion: '1' },
    { requestToken: 'req-2' },
  );
  await backend.delete('a', { force: false }, { requestToken: 'req-3' });
  await backend.delete('a', { force: false }, { requestToken: 'req-3' });

  // Assess
  t.equal(createRetry.version, '1');
  t.equal(putRetry.version, '2');
  t.equal((await backend.describe('a')).pendingDeletion, true);
  await t.rejects(backend.create(create, { requestToken: 'req-4' }), { code: 'pending_deletion' });
});

t.test('an aborted call throws backend_timeout without writing', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  const controller = new AbortController();
  controller.abort(new Error('attempt timed out'));

  // Act
  const create = await rejectionOf(
    backend.create({ id: 'a', value: 'one', encoding: 'utf8' }, { signal: controller.signal }),
  );

  // Assess
  t.match(create, { code: 'backend_timeout' });
  await t.rejects(backend.describe('a'), { code: 'not_found' });
});

t.test('concurrent puts on one id all land, each with its own version', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t, { versionsKept: 20 });
  await backend.create({ id: 'a', value: 'v0', encoding: 'utf8' });

  // Act
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => backend.put('a', { value: `v${i + 1}`, encoding: 'utf8' })),
  );

  // Assess
  t.same(
    results.map((m) => m.version).sort((a, b) => Number(a) - Number(b)),
    ['2', '3', '4', '5', '6', '7', '8', '9', '10', '11'],
  );
  t.equal((await backend.describe('a')).version, '11');
});

t.test('close waits for writes in flight and later calls throw backend_unavailable', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);
  const inFlight = backend.create({ id: 'a', value: 'one', encoding: 'utf8' });

  // Act
  await backend.close();

  // Assess
  t.equal((await inFlight).version, '1');
  await t.rejects(backend.get('a', undefined), { code: 'backend_unavailable' });
});

t.test('ready resolves on a healthy store', async (t) => {
  // Prepare
  const { backend } = await openTestStore(t);

  // Act
  const probe = backend.ready();

  // Assess
  await t.resolves(probe);
  t.equal(backend.kind, 'file');
});

t.test('file system failures map to transient or permanent error kinds, naming the operation', async (t) => {
  // Prepare
  const failure = (code: string) => Object.assign(new Error(`${code}: failed`), { code });

  // Act
  const noSpace = failure('ENOSPC');
  const full = storeIoError("update secret 'a'", noSpace);
  const io = storeIoError("update secret 'a'", failure('EIO'));
  const denied = storeIoError("update secret 'a'", failure('EACCES'));
  const odd = storeIoError('list secrets', new Error('no code'));

  // Assess
  t.match(full, {
    code: 'backend_unavailable',
    message: "file store could not update secret 'a': no space is left on the volume of the store directory (ENOSPC)",
  });
  t.match(io, { code: 'backend_unavailable' });
  t.match(denied, { code: 'backend_error', message: /EACCES/ });
  t.match(odd, { code: 'backend_error', message: /unknown error/ });
  t.equal(full.cause, noSpace, 'the original error is kept as cause');
});
