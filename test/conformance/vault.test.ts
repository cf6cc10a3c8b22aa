/**
 * The shared conformance suite over the Vault backend, against a real OpenBao dev server (the
 * open-source Vault fork, from the test virtualenv), the broker logging in with JWT auth under the
 * policy of docs/backends/vault.md. Kubernetes auth needs an API server to review tokens: it is covered on the
 * contract double (test/vault/vault-auth.test.ts).
 */
import t from 'tap';
import { openBaoForTest } from '../helpers/openbao-server.js';
import { setupJwtLogin } from '../vault/jwt-login-setup.js';
import { runConformanceSuite } from './suite.js';

const bao = await openBaoForTest(t);

if (bao) {
  runConformanceSuite(t, 'vault', async () => {
    const setup = await setupJwtLogin({ addr: bao.addr, token: bao.rootToken });
    return { backend: setup.makeBackend(), cleanup: () => setup.cleanup() };
  });
}
