/**
 * The Vault scenarios against a real server: an OpenBao dev server started for this file (from the
 * test virtualenv; required in CI), or the Vault named by VAULT_ADDR and VAULT_SETUP_TOKEN when both
 * are set (see docs/backends/vault.md). Sealing is tested only on the server started here.
 */
import t from 'tap';
import { openBaoForTest } from '../helpers/openbao-server.js';
import { runRealVaultSuite } from '../vault/real-vault-suite.js';

const addr = process.env.VAULT_ADDR;
const setupToken = process.env.VAULT_SETUP_TOKEN;

if (addr && setupToken) {
  await runRealVaultSuite(t, {
    addr,
    setupToken,
    ...(process.env.VAULT_NAMESPACE ? { namespace: process.env.VAULT_NAMESPACE } : {}),
    ...(process.env.VAULT_CACERT ? { caFile: process.env.VAULT_CACERT } : {}),
  });
} else {
  const bao = await openBaoForTest(t);
  // A subtest, so the suite's own teardown (mounts, policy, auth method) runs before the server stops.
  if (bao) t.test('on OpenBao', (t) => runRealVaultSuite(t, { addr: bao.addr, setupToken: bao.rootToken, seal: bao }));
}
