/**
 * The shared conformance suite over the Vault backend, against the Vault contract double (written
 * from Vault's API documentation), logging in with Kubernetes auth under the documented policy.
 * test/vault-real/ runs the Vault scenarios against a real Vault when one is configured.
 */
import t from 'tap';
import { createVaultSetup } from '../vault/vault-fixture.js';
import { runConformanceSuite } from './suite.js';

runConformanceSuite(t, 'vault', async () => {
  const setup = await createVaultSetup();
  return { backend: setup.makeBackend(), cleanup: () => setup.cleanup() };
});
