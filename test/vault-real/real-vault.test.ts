/**
 * The Vault scenarios against a real Vault. Optional: they run when VAULT_ADDR and
 * VAULT_SETUP_TOKEN are set (see the README's Vault section, or `bash scripts/vault-dev.sh test`), and report a
 * skip with the reason otherwise. CI runs the same file's scenarios against the double
 * (test/vault/real-suite-on-double.test.ts), so they cannot go stale unnoticed.
 */
import t from 'tap';
import { runRealVaultSuite } from '../vault/real-vault-suite.js';

const addr = process.env.VAULT_ADDR;
const setupToken = process.env.VAULT_SETUP_TOKEN;

if (!addr || !setupToken) {
  t.plan(0, 'VAULT_ADDR and VAULT_SETUP_TOKEN are not set: no real Vault to test against (see the README, Vault)');
} else {
  await runRealVaultSuite(t, {
    addr,
    setupToken,
    ...(process.env.VAULT_NAMESPACE ? { namespace: process.env.VAULT_NAMESPACE } : {}),
    ...(process.env.VAULT_CACERT ? { caFile: process.env.VAULT_CACERT } : {}),
  });
}
