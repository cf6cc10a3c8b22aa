/**
 * The AWS backend's restore (RestoreSecret) and batch read (one BatchGetSecretValue for up to 20
 * ids), against moto through the real SDK.
 */
import t from 'tap';
import { awsFixture, rejectionOf } from '../fixtures/aws/aws-fixture.js';
import { motoForTest } from '../helpers/moto-server.js';

const moto = await motoForTest(t);

if (moto) {
  t.test('getMany reads every id in one BatchGetSecretValue call, each missing id with its own error', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    await backend.create({ id: 'app/text', value: 'hello', encoding: 'utf8' });
    await backend.create({ id: 'app/bin', value: Buffer.from([0, 1, 2]).toString('base64'), encoding: 'base64' });
    await backend.create({ id: 'app/gone', value: 'x', encoding: 'utf8' });
    await backend.delete('app/gone', { force: false });
    const before = proxy.count();

    // Act
    const results = await backend.getMany!(['app/text', 'app/missing', 'app/bin', 'app/gone']);

    // Assess
    t.equal(proxy.count() - before, 1, 'one call');
    t.equal(proxy.count('BatchGetSecretValue'), 1, 'and it is BatchGetSecretValue');
    t.match(results.get('app/text'), { id: 'app/text', value: 'hello', encoding: 'utf8', version: String });
    t.match(results.get('app/bin'), { value: 'AAEC', encoding: 'base64' });
    t.match(results.get('app/missing'), { code: 'not_found' });
    t.match(results.get('app/gone'), { code: 'not_found' }, 'a secret pending deletion reads as not found');
    t.same([...results.keys()], ['app/text', 'app/missing', 'app/bin', 'app/gone']);
  });

  t.test('getMany refuses more than 20 ids without calling AWS', async (t) => {
    const { backend, proxy } = await awsFixture(t, moto);
    const ids = Array.from({ length: 21 }, (_, i) => `app/s${i}`);
    t.match(await rejectionOf(backend.getMany!(ids)), { code: 'invalid_request' });
    t.equal(proxy.count(), 0);
  });

  t.test('restore cancels a scheduled deletion, keeps the version, and succeeds again on a live secret', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    const created = await backend.create({ id: 'app/db', value: 'v', encoding: 'utf8', description: 'kept' });
    await backend.delete('app/db', { force: false });

    // Act
    const restored = await backend.restore('app/db');
    const retried = await backend.restore('app/db');

    // Assess
    t.match(restored, { id: 'app/db', version: created.version, description: 'kept' });
    t.notOk('pendingDeletion' in restored);
    t.equal(retried.version, created.version, 'a retried restore finds it live and succeeds');
    t.equal(proxy.count('RestoreSecret'), 2);
    t.equal((await backend.get('app/db', undefined)).value, 'v');
    t.match(await rejectionOf(backend.restore('app/never')), { code: 'not_found' });
  });
}
