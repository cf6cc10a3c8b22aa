/**
 * The AWS backend's create / read / update / delete semantics, against moto through the real SDK.
 */
import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import t from 'tap';
import { awsFixture, rejectionOf } from '../fixtures/aws/aws-fixture.js';
import { motoForTest } from '../helpers/moto-server.js';

const moto = await motoForTest(t);

if (moto) {
  t.test('create then get returns the value, the VersionId as version, description, tags and dates', async (t) => {
    // Prepare
    const { backend } = await awsFixture(t, moto);

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
    t.match(created, { id: 'prod/db/password', encoding: 'utf8', description: 'primary db', tags: { team: 'core' } });
    t.match(created.version, /^[A-Za-z0-9-]{32,64}$/);
    t.match(read, {
      id: 'prod/db/password',
      value: 'hunter2',
      encoding: 'utf8',
      version: created.version,
      description: 'primary db',
      tags: { team: 'core' },
    });
    t.ok(read.createdAt && read.updatedAt, 'dates are reported');
  });

  t.test('a read costs one GetSecretValue call; description and tags come from what a list page showed', async (t) => {
    // Prepare: a secret made outside the broker, so this backend has seen nothing of it yet.
    const { backend, proxy, direct } = await awsFixture(t, moto);
    await direct.send(
      new CreateSecretCommand({
        Name: 'made/elsewhere',
        SecretString: 'v',
        Description: 'set outside',
        Tags: [{ Key: 'team', Value: 'ops' }],
      }),
    );
    const before = proxy.count();

    // Act
    const unseen = await backend.get('made/elsewhere', undefined);
    const afterFirstRead = proxy.count();
    await backend.listPage({ pageSize: 10 });
    const afterList = proxy.count();
    const seen = await backend.get('made/elsewhere', undefined);

    // Assess
    t.equal(afterFirstRead - before, 1, 'one call for a read');
    t.equal(proxy.count('GetSecretValue'), 2);
    t.equal(proxy.count('DescribeSecret'), 0, 'no DescribeSecret on the read path');
    t.equal(proxy.count() - afterList, 1, 'still one call once the metadata is known');
    t.match(unseen, { id: 'made/elsewhere', value: 'v' });
    t.notOk(unseen.description, 'nothing seen yet: no description rather than a second call');
    t.match(seen, { value: 'v', description: 'set outside', tags: { team: 'ops' } });
    t.ok(seen.updatedAt, 'the version date comes with the value');
  });

  t.test('create sends the request token as ClientRequestToken, so it becomes the VersionId', async (t) => {
    // Prepare
    const { backend } = await awsFixture(t, moto);
    const requestToken = '0f8fad5b-d9cb-469f-a165-70867728950e';

    // Act
    const created = await backend.create({ id: 'a', value: 'one', encoding: 'utf8' }, { requestToken });

    // Assess
    t.equal(created.version, requestToken);
  });

  t.test('a request token AWS would refuse is replaced by a stable hash of itself', async (t) => {
    // Prepare
    const { backend } = await awsFixture(t, moto);

    // Act
    const created = await backend.create({ id: 'a', value: 'one', encoding: 'utf8' }, { requestToken: 'short' });
    const again = await backend.create({ id: 'a', value: 'one', encoding: 'utf8' }, { requestToken: 'short' });

    // Assess
    t.match(created.version, /^[0-9a-f]{64}$/);
    t.equal(again.version, created.version, 'the retry is recognised as the same create');
  });

  t.test('create on a live id throws already_exists and keeps the value', async (t) => {
    // Prepare
    const { backend } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });

    // Act
    const second = await rejectionOf(backend.create({ id: 'a', value: 'two', encoding: 'utf8' }));

    // Assess
    t.match(second, { name: 'SecretError', code: 'already_exists' });
    t.equal((await backend.get('a', undefined)).value, 'one');
  });

  t.test('get and describe of a missing id, and get of an unknown version, throw not_found', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });

    // Act
    const missing = await rejectionOf(backend.get('nope', undefined));
    const described = await rejectionOf(backend.describe('nope'));
    const unknownVersion = await rejectionOf(backend.get('a', 'c'.repeat(32)));
    const callsBefore = proxy.count();
    const malformedVersion = await rejectionOf(backend.get('a', '7'));

    // Assess
    for (const err of [missing, described, unknownVersion, malformedVersion]) t.match(err, { code: 'not_found' });
    t.equal(proxy.count(), callsBefore, 'a version AWS could never have issued is not asked for');
  });

  t.test('put replaces the value, keeps the previous version readable and moves AWSCURRENT', async (t) => {
    // Prepare
    const { backend } = await awsFixture(t, moto);
    const first = await backend.create({ id: 'a', value: 'one', encoding: 'utf8', description: 'd' });

    // Act
    const second = await backend.put('a', { value: 'two', encoding: 'utf8' });

    // Assess
    t.not(second.version, first.version);
    t.match(second, { id: 'a', encoding: 'utf8', description: 'd' });
    t.equal((await backend.get('a', undefined)).value, 'two');
    t.equal((await backend.get('a', first.version)).value, 'one');
    t.equal((await backend.describe('a')).version, second.version);
  });

  t.test('put calls UpdateSecret and the tag APIs only for what changed', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8', description: 'd', tags: { keep: '1', drop: '2' } });

    // Act
    await backend.put('a', { value: 'two', encoding: 'utf8', description: 'd', tags: { keep: '1', drop: '2' } });
    const unchangedCalls = ['UpdateSecret', 'TagResource', 'UntagResource'].map((op) => proxy.count(op));
    const changed = await backend.put('a', {
      value: 'three',
      encoding: 'utf8',
      description: 'new',
      tags: { keep: '1', added: '3' },
    });

    // Assess
    t.same(unchangedCalls, [0, 0, 0], 'nothing changed, nothing sent');
    t.equal(proxy.count('UpdateSecret'), 1);
    t.equal(proxy.count('TagResource'), 1);
    t.equal(proxy.count('UntagResource'), 1);
    t.match(changed, { description: 'new', tags: { keep: '1', added: '3' } });
    t.match(await backend.describe('a'), { description: 'new', tags: { keep: '1', added: '3' } });
    t.notOk('drop' in ((await backend.describe('a')).tags ?? {}));
  });

  t.test('put on a missing id throws not_found', async (t) => {
    // Prepare
    const { backend } = await awsFixture(t, moto);

    // Act
    const err = await rejectionOf(backend.put('nope', { value: 'x', encoding: 'utf8' }));

    // Assess
    t.match(err, { code: 'not_found' });
  });

  t.test('a recoverable delete hides the secret but keeps its name for the recovery window', async (t) => {
    // Prepare
    const { backend, direct } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });

    // Act
    await backend.delete('a', { force: false });

    // Assess
    t.match(await rejectionOf(backend.get('a', undefined)), { code: 'not_found' });
    t.match(await backend.describe('a'), { id: 'a', pendingDeletion: true });
    t.match(await rejectionOf(backend.put('a', { value: 'x', encoding: 'utf8' })), { code: 'not_found' });
    t.match(await rejectionOf(backend.delete('a', { force: false })), { code: 'not_found' });
    t.match(await rejectionOf(backend.create({ id: 'a', value: 'x', encoding: 'utf8' })), {
      code: 'pending_deletion',
    });
    t.same((await backend.listPage({ pageSize: 10 })).items, []);
    const raw = await direct.send(new DescribeSecretCommand({ SecretId: 'a' }));
    t.ok(raw.DeletedDate, 'AWS holds the secret with a deletion date');
  });

  t.test('a put on a secret pending deletion changes nothing, even where the emulator would allow it', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
    await backend.delete('a', { force: false });

    // Act
    const err = await rejectionOf(backend.put('a', { value: 'two', encoding: 'utf8' }));

    // Assess
    t.match(err, { code: 'not_found' });
    t.equal(proxy.count('PutSecretValue'), 0);
  });

  t.test('a forced delete, also of a secret pending deletion, frees the id for a new create', async (t) => {
    // Prepare
    const { backend } = await awsFixture(t, moto);
    await backend.create({ id: 'live', value: 'one', encoding: 'utf8' });
    await backend.create({ id: 'pending', value: 'one', encoding: 'utf8' });
    await backend.delete('pending', { force: false });

    // Act
    await backend.delete('live', { force: true });
    await backend.delete('pending', { force: true });

    // Assess
    t.match(await rejectionOf(backend.describe('live')), { code: 'not_found' });
    t.match(await rejectionOf(backend.describe('pending')), { code: 'not_found' });
    await backend.create({ id: 'pending', value: 'fresh', encoding: 'utf8' });
    t.equal((await backend.get('pending', undefined)).value, 'fresh');
  });

  t.test('delete of a missing id throws not_found, forced or not', async (t) => {
    // Prepare
    const { backend } = await awsFixture(t, moto);

    // Act
    const recoverable = await rejectionOf(backend.delete('nope', { force: false }));
    const forced = await rejectionOf(backend.delete('nope', { force: true }));

    // Assess
    t.match(recoverable, { code: 'not_found' });
    t.match(forced, { code: 'not_found' }, 'AWS itself would answer a forced delete of a missing name with success');
  });

  t.test('binary values go in as SecretBinary and come back base64-encoded', async (t) => {
    // Prepare
    const { backend, direct } = await awsFixture(t, moto);
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13]);

    // Act
    await backend.create({ id: 'bin', value: bytes.toString('base64'), encoding: 'base64' });
    const read = await backend.get('bin', undefined);
    const updated = await backend.put('bin', { value: Buffer.from([9, 8]).toString('base64'), encoding: 'base64' });
    const reread = await backend.get('bin', undefined);

    // Assess
    t.match(read, { encoding: 'base64', value: bytes.toString('base64') });
    const raw = await direct.send(new GetSecretValueCommand({ SecretId: 'bin', VersionId: read.version }));
    t.same(Buffer.from(raw.SecretBinary ?? []), bytes, 'stored as bytes, not as base64 text');
    t.equal(raw.SecretString, undefined);
    t.equal(updated.encoding, 'base64');
    t.match(reread, { encoding: 'base64', value: Buffer.from([9, 8]).toString('base64') });
  });

  t.test('ready resolves when moto answers an authorised call', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);

    // Act
    await backend.ready();

    // Assess
    t.equal(proxy.count('ListSecrets'), 1);
    t.match(JSON.parse(proxy.seen[0]?.body ?? '{}'), { MaxResults: 1 });
  });
}
