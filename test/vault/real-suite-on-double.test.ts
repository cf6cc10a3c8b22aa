/**
 * The real-Vault suite (test/vault-real/) run against the double, so its setup (mount, policy,
 * token) and scenarios are exercised on every CI run, not only when someone has a Vault at hand.
 */
import t from 'tap';
import { startVaultDouble } from '../helpers/vault-double/index.js';
import { runRealVaultSuite } from './real-vault-suite.js';

const double = await startVaultDouble();
t.teardown(() => double.close());

// A subtest, so the suite's own teardown (mount, policy, token) runs before the double closes.
t.test('the real-Vault suite passes against the double', (t) =>
  runRealVaultSuite(t, { addr: double.addr, setupToken: double.rootToken }),
);
