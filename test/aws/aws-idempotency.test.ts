/**
 * Writes whose answer is lost after AWS applied them: the retry (same request token) must not apply
 * them twice, and must report success. The fault proxy forwards the request to moto, then drops the
 * connection instead of passing the answer back.
 */
import { DescribeSecretCommand, ListSecretVersionIdsCommand } from '@aws-sdk/client-secrets-manager';
import t from 'tap';
import type { CallOptions } from '../../agent/backends/contract.js';
import { awsFixture, rejectionOf } from '../fixtures/aws/aws-fixture.js';
import { motoForTest } from '../helpers/moto-server.js';

const moto = await motoForTest(t);
const token = (n: number): CallOptions => ({ requestToken: `5d1b5e3c-3f0e-4b8e-9a1c-00000000000${n}` });

if (moto) {
  t.test('a put retried after a dropped response is applied once and answers the same version', async (t) => {
    // Prepare
    const { backend, proxy, direct } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' }, token(1));
    proxy.inject({ kind: 'drop-response' }, { operation: 'PutSecretValue' });

    // Act
    const lost = await rejectionOf(backend.put('a', { value: 'two', encoding: 'utf8' }, token(2)));
    const retried = await backend.put('a', { value: 'two', encoding: 'utf8' }, token(2));

    // Assess
    t.match(lost, { code: 'backend_unavailable' }, 'a dropped connection is transient');
    t.equal(proxy.count('PutSecretValue'), 2, 'both attempts reached AWS');
    t.equal(retried.version, token(2).requestToken, 'the version is the one the first attempt created');
    const versions = await direct.send(new ListSecretVersionIdsCommand({ SecretId: 'a' }));
    t.equal(versions.Versions?.length, 2, 'the create and one put: the retry added no version');
    t.equal((await backend.get('a', undefined)).value, 'two');
  });

  t.test('a create retried after a dropped response succeeds with the version it created', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    proxy.inject({ kind: 'drop-response' }, { operation: 'CreateSecret' });

    // Act
    const lost = await rejectionOf(backend.create({ id: 'a', value: 'one', encoding: 'utf8' }, token(3)));
    const retried = await backend.create({ id: 'a', value: 'one', encoding: 'utf8' }, token(3));

    // Assess
    t.match(lost, { code: 'backend_unavailable' });
    t.match(retried, { id: 'a', version: token(3).requestToken, encoding: 'utf8' });
  });

  t.test('a create with another token on the same name is still already_exists', async (t) => {
    // Prepare
    const { backend } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' }, token(4));

    // Act
    const err = await rejectionOf(backend.create({ id: 'a', value: 'one', encoding: 'utf8' }, token(5)));

    // Assess
    t.match(err, { code: 'already_exists' });
  });

  t.test('a recoverable delete retried after a dropped response succeeds', async (t) => {
    // Prepare
    const { backend, proxy, direct } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
    proxy.inject({ kind: 'drop-response' }, { operation: 'DeleteSecret' });

    // Act
    const lost = await rejectionOf(backend.delete('a', { force: false }, token(6)));
    await backend.delete('a', { force: false }, token(6));

    // Assess
    t.match(lost, { code: 'backend_unavailable' });
    t.ok((await direct.send(new DescribeSecretCommand({ SecretId: 'a' }))).DeletedDate);
  });

  t.test('a forced delete retried after a dropped response succeeds', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
    proxy.inject({ kind: 'drop-response' }, { operation: 'DeleteSecret' });

    // Act
    await rejectionOf(backend.delete('a', { force: true }, token(7)));
    await backend.delete('a', { force: true }, token(7));

    // Assess
    t.match(await rejectionOf(backend.describe('a')), { code: 'not_found' });
  });

  t.test('a delete of an already deleted secret with a new token is still not_found', async (t) => {
    // Prepare
    const { backend } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
    await backend.delete('a', { force: false }, token(8));

    // Act
    const err = await rejectionOf(backend.delete('a', { force: false }, token(9)));

    // Assess
    t.match(err, { code: 'not_found' });
  });
}
