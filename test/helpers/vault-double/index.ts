/**
 * The Vault contract double for tests: start one per test with {@link startVaultDouble} and close
 * it in `t.teardown`.
 */
import { VaultDouble, type VaultDoubleOptions } from './server.js';

export { allows, parsePolicy } from './acl.js';
export type { JwtRole, KubernetesRole } from './auth.js';
export { createJwtSigner, serviceAccountClaims, sharedJwtSigner, verifyJwt } from './jwt.js';
export type { RecordedRequest, VaultDoubleOptions } from './server.js';
export { VaultDouble };

/** Starts a double on 127.0.0.1 with a random port, a `secret/` KV v2 mount, and `kubernetes` and `jwt` auth. */
export async function startVaultDouble(options: VaultDoubleOptions = {}): Promise<VaultDouble> {
  return new VaultDouble(options).listen();
}
