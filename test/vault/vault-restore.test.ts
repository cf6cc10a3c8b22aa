/**
 * Restore on Vault undeletes exactly the version a recoverable delete soft-deleted (the current
 * one), on the contract double, whose request counts show what was sent.
 */
import t from 'tap';
import { vaultFixture } from './vault-fixture.js';

const utf8 = 'utf8' as const;

t.test('restore undeletes the current version only, under the documented policy', async (t) => {
  // Prepare: someone else soft-deleted version 1; then the broker deleted the secret (version 2).
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'app/db', value: 'v1', encoding: utf8 });
  await backend.put('app/db', { value: 'v2', encoding: utf8, ifVersion: '1' });
  double.kv().changeVersions('delete', 'app/db', { versions: [1] });
  await backend.delete('app/db', { force: false });

  // Act
  const restored = await backend.restore('app/db');

  // Assess
  t.equal(double.count('POST', 'secret/undelete/app/db'), 1, 'one undelete');
  t.match(restored, { id: 'app/db', version: '2' });
  t.equal((await backend.get('app/db', undefined)).value, 'v2');
  await t.rejects(backend.get('app/db', '1'), { code: 'not_found' }, 'the version deleted before stays deleted');
});

t.test('restore of a live key sends no undelete; of a missing or destroyed one it is not_found', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'app/live', value: 'v', encoding: utf8 });
  await backend.create({ id: 'app/burnt', value: 'v', encoding: utf8 });
  await backend.delete('app/burnt', { force: false });
  double.kv().changeVersions('destroy', 'app/burnt', { versions: [1] });

  // Act
  const live = await backend.restore('app/live');

  // Assess
  t.match(live, { version: '1' });
  t.equal(double.count('POST', 'secret/undelete/app/live'), 0);
  await t.rejects(backend.restore('app/none'), { code: 'not_found' });
  await t.rejects(backend.restore('app/burnt'), { code: 'not_found' }, 'a destroyed version cannot come back');
});
