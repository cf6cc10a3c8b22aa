import t from 'tap';
import { codeOf } from './outcome.js';
import { vaultFixture } from './vault-fixture.js';

const utf8 = 'utf8' as const;

t.test('create stores the value in KV v2 and get reads it back with description and tags', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);

  // Act
  const created = await backend.create({
    id: 'prod/db/password',
    value: 's3cr3t',
    encoding: utf8,
    description: 'primary database',
    tags: { team: 'payments', tier: 'gold' },
  });
  const read = await backend.get('prod/db/password', undefined);

  // Assess
  t.equal(created.version, '1');
  t.match(read, {
    id: 'prod/db/password',
    value: 's3cr3t',
    encoding: 'utf8',
    version: '1',
    description: 'primary database',
    tags: { team: 'payments', tier: 'gold' },
  });
  const stored = double.kv().readData('prod/db/password', undefined).body as { data: { data: unknown } };
  t.same(stored.data.data, { value: 's3cr3t', encoding: 'utf8' });
  const meta = double.kv().readMetadata('prod/db/password').body as { data: { custom_metadata: unknown } };
  t.same(meta.data.custom_metadata, { description: 'primary database', 'tag.team': 'payments', 'tag.tier': 'gold' });
});

t.test('create of an id that is live answers already_exists and writes nothing', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'app/key', value: 'one', encoding: utf8 });

  // Act
  const code = await codeOf(backend.create({ id: 'app/key', value: 'two', encoding: utf8 }));

  // Assess
  t.equal(code, 'already_exists');
  t.equal(double.count('POST', 'secret/data/app/key'), 1);
  t.equal((await backend.get('app/key', undefined)).value, 'one');
});

t.test('binary values keep their base64 encoding in reads, describe and lists', async (t) => {
  // Prepare
  const { backend } = await vaultFixture(t);
  const value = Buffer.from([0, 1, 2, 254, 255]).toString('base64');

  // Act
  await backend.create({ id: 'certs/key.der', value, encoding: 'base64' });

  // Assess
  t.match(await backend.get('certs/key.der', undefined), { value, encoding: 'base64' });
  t.equal((await backend.describe('certs/key.der')).encoding, 'base64');
  t.equal((await backend.listPage({ pageSize: 10 })).items[0]?.encoding, 'base64');
  await backend.put('certs/key.der', { value: 'text now', encoding: utf8, ifVersion: '1' });
  t.equal((await backend.describe('certs/key.der')).encoding, 'utf8');
});

t.test('put writes a new version with cas and keeps the previous one readable', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'app/token', value: 'v1', encoding: utf8, description: 'kept' });
  const sent: unknown[] = [];
  double.beforeRequest = (r) => {
    if (r.method === 'POST' && r.path === 'secret/data/app/token') sent.push(r);
  };

  // Act
  const updated = await backend.put('app/token', { value: 'v2', encoding: utf8, ifVersion: '1' });

  // Assess
  t.equal(updated.version, '2');
  t.equal(updated.description, 'kept', 'an undefined description keeps the stored one');
  t.equal((await backend.get('app/token', undefined)).value, 'v2');
  t.equal((await backend.get('app/token', '1')).value, 'v1');
  t.equal(sent.length, 1);
  t.equal(double.count('POST', 'secret/metadata/app/token'), 1, 'metadata untouched when description and tags stay');
});

t.test('put replaces description and tags when given and keeps foreign custom_metadata keys', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'app/cfg', value: 'v1', encoding: utf8, description: 'old', tags: { a: '1' } });
  double.kv().writeMetadata('app/cfg', {
    custom_metadata: { description: 'old', 'tag.a': '1', owner: 'platform-team' },
    max_versions: 3,
  });

  // Act
  const updated = await backend.put('app/cfg', {
    value: 'v2',
    encoding: utf8,
    description: 'new',
    tags: { b: '2' },
    ifVersion: '1',
  });

  // Assess
  t.match(updated, { description: 'new', tags: { b: '2' } });
  const meta = double.kv().readMetadata('app/cfg').body as { data: Record<string, unknown> };
  t.same(meta.data.custom_metadata, { owner: 'platform-team', description: 'new', 'tag.b': '2' });
  t.equal(meta.data.max_versions, 3, 'other metadata settings are left alone');
});

t.test('put with a version that moved on answers precondition_failed and writes nothing', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'app/x', value: 'v1', encoding: utf8 });
  await backend.put('app/x', { value: 'v2', encoding: utf8, ifVersion: '1' });

  // Act
  const code = await codeOf(backend.put('app/x', { value: 'lost', encoding: utf8, ifVersion: '1' }));

  // Assess
  t.equal(code, 'precondition_failed');
  t.equal(double.count('POST', 'secret/data/app/x'), 2);
  t.equal((await backend.get('app/x', undefined)).value, 'v2');
});

t.test('put and get of an id that never existed answer not_found', async (t) => {
  // Prepare
  const { backend } = await vaultFixture(t);

  // Act
  const codes = await Promise.all([
    codeOf(backend.put('nope', { value: 'x', encoding: utf8 })),
    codeOf(backend.get('nope', undefined)),
    codeOf(backend.describe('nope')),
    codeOf(backend.delete('nope', { force: false })),
    codeOf(backend.delete('nope', { force: true })),
  ]);

  // Assess
  t.same(codes, ['not_found', 'not_found', 'not_found', 'not_found', 'not_found']);
});

t.test('a recoverable delete hides the secret and keeps the id as pending_deletion', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'app/old', value: 'v1', encoding: utf8 });
  await backend.put('app/old', { value: 'v2', encoding: utf8, ifVersion: '1' });

  // Act
  await backend.delete('app/old', { force: false, ifVersion: '2' });

  // Assess
  t.equal(double.count('POST', 'secret/delete/app/old'), 1);
  t.equal(await codeOf(backend.get('app/old', undefined)), 'not_found');
  t.equal(await codeOf(backend.get('app/old', '1')), 'not_found', 'older versions are hidden too');
  t.equal(await codeOf(backend.put('app/old', { value: 'x', encoding: utf8 })), 'not_found');
  t.equal(await codeOf(backend.delete('app/old', { force: false })), 'not_found');
  t.equal(await codeOf(backend.create({ id: 'app/old', value: 'x', encoding: utf8 })), 'pending_deletion');
  t.match(await backend.describe('app/old'), { version: '2', pendingDeletion: true });
  t.same((await backend.listPage({ pageSize: 10 })).items, []);
});

t.test('a forced delete removes every version and frees the id', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'app/gone', value: 'v1', encoding: utf8, description: 'old' });
  await backend.delete('app/gone', { force: false });

  // Act
  await backend.delete('app/gone', { force: true });
  const recreated = await backend.create({ id: 'app/gone', value: 'fresh', encoding: utf8 });

  // Assess
  t.equal(double.count('DELETE', 'secret/metadata/app/gone'), 1);
  t.equal(recreated.version, '1');
  t.equal(recreated.description, undefined);
  t.equal((await backend.get('app/gone', undefined)).value, 'fresh');
});

t.test('an id whose current version was destroyed is free: create writes the next version', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'app/burnt', value: 'v1', encoding: utf8 });
  await backend.put('app/burnt', { value: 'v2', encoding: utf8 });
  double.kv().changeVersions('destroy', 'app/burnt', { versions: [1, 2] });

  // Act
  const describeCode = await codeOf(backend.describe('app/burnt'));
  const created = await backend.create({ id: 'app/burnt', value: 'v3', encoding: utf8 });

  // Assess
  t.equal(describeCode, 'not_found');
  t.equal(created.version, '3');
  t.equal((await backend.get('app/burnt', undefined)).value, 'v3');
});

t.test('versions that are not positive integers, or were pruned by max_versions, are not_found', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'app/v', value: 'v1', encoding: utf8 });
  double.kv().writeMetadata('app/v', { max_versions: 2 });
  await backend.put('app/v', { value: 'v2', encoding: utf8 });
  await backend.put('app/v', { value: 'v3', encoding: utf8 });

  // Act
  const codes = await Promise.all(['0', 'abc', '-1', '1', '9'].map((v) => codeOf(backend.get('app/v', v))));

  // Assess
  t.same(codes, ['not_found', 'not_found', 'not_found', 'not_found', 'not_found']);
  t.equal((await backend.get('app/v', '2')).value, 'v2');
});

t.test('a deletion time in the future (delete_version_after) is not a deletion yet', async (t) => {
  // Prepare
  const { backend, double, rotateJwt } = await vaultFixture(t);
  double.kv().writeConfig({ delete_version_after: '1h' });
  await backend.create({ id: 'app/ttl', value: 'v1', encoding: utf8 });

  // Act
  const before = await backend.describe('app/ttl');
  double.advance(2 * 3_600_000);
  await rotateJwt(); // the kubelet would have replaced the expired service-account token by now
  const after = await backend.describe('app/ttl');

  // Assess
  t.notOk(before.pendingDeletion);
  t.equal(after.pendingDeletion, true);
  t.equal(await codeOf(backend.get('app/ttl', undefined)), 'not_found');
});

t.test('data written by other tools (no value key) reads as its JSON text', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  double.kv().writeData('legacy/app', { data: { username: 'app', password: 'pw' } });

  // Act
  const read = await backend.get('legacy/app', undefined);

  // Assess
  t.same(JSON.parse(read.value), { username: 'app', password: 'pw' });
  t.equal(read.encoding, 'utf8');
});

t.test('ids with every allowed punctuation character round-trip through the URL', async (t) => {
  // Prepare
  const { backend } = await vaultFixture(t);
  const id = 'team_a/key+1=b@c.d-e';

  // Act
  await backend.create({ id, value: 'v', encoding: utf8 });

  // Assess
  t.equal((await backend.get(id, undefined)).id, id);
  t.same(
    (await backend.listPage({ pageSize: 10 })).items.map((i) => i.id),
    [id],
  );
});

t.test('a mount that does not exist is a backend_error, not a missing secret', async (t) => {
  // Prepare: a root token, since the broker's policy would refuse the path before routing does
  const { makeBackend, double } = await vaultFixture(t);
  const backend = makeBackend({ mount: 'no-such-mount', auth: 'token', token: double.rootToken });

  // Act
  const codes = await Promise.all([
    codeOf(backend.get('a', undefined)),
    codeOf(backend.create({ id: 'a', value: 'v', encoding: utf8 })),
  ]);

  // Assess
  t.same(codes, ['backend_error', 'backend_error']);
});

t.test('create with a description longer than Vault allows is invalid_request', async (t) => {
  // Prepare
  const { backend } = await vaultFixture(t);

  // Act
  const code = await codeOf(backend.create({ id: 'a', value: 'v', encoding: utf8, description: 'x'.repeat(513) }));

  // Assess
  t.equal(code, 'invalid_request');
});

t.test('error messages never carry the secret value', async (t) => {
  // Prepare
  const { backend } = await vaultFixture(t);
  const value = 'do-not-leak-4711';
  await backend.create({ id: 'app/leak', value, encoding: utf8 });

  // Act
  const errors: unknown[] = [];
  for (const attempt of [
    () => backend.create({ id: 'app/leak', value, encoding: utf8 }),
    () => backend.put('app/leak', { value, encoding: utf8, ifVersion: '7' }),
    () => backend.put('missing', { value, encoding: utf8 }),
  ]) {
    await attempt().catch((err: unknown) => errors.push(err));
  }

  // Assess
  t.equal(errors.length, 3);
  for (const err of errors) t.notMatch((err as Error).message, value);
});
