/**
 * The race proof on the Vault backend: three broker processes share the lock directory and one
 * real Vault (OpenBao's dev server, KV v2 at `secret/`).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { openBaoForTest } from '../helpers/openbao-server.js';
import { proveRaceOnBackend } from './race-harness.js';

const bao = await openBaoForTest(t);

if (bao) {
  t.test('3 brokers on one Vault count every acknowledged conditional increment', async (t) => {
    await proveRaceOnBackend(t, (dir) => {
      // Token login keeps the race about writes; JWT login is proven by the real-Vault suite.
      const tokenFile = path.join(dir, 'vault-token');
      writeFileSync(tokenFile, bao.rootToken, { mode: 0o600 });
      return {
        SECRETS_BROKER_BACKEND: 'vault',
        SECRETS_BROKER_VAULT_ADDR: bao.addr,
        SECRETS_BROKER_VAULT_AUTH: 'token',
        SECRETS_BROKER_VAULT_TOKEN_FILE: tokenFile,
      };
    });
  });
}
