/**
 * The built broker as a real process with SECRETS_BROKER_BACKEND=vault, logging in to the Vault
 * double with Kubernetes auth: it is ready, serves a CRUD session with If-Match, answers 503 with
 * Retry-After while Vault is sealed, recovers without a restart, and stops on SIGTERM.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { MAIN, startBrokerProcess, waitForOutput } from '../helpers/broker-process.js';
import { request, type Target } from '../helpers/http-client.js';
import { createVaultSetup, ROLE } from './vault-fixture.js';

t.test('a broker process on the vault backend serves the API and rides out a seal', async (t) => {
  // Prepare
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does it first)`);
  const vault = await createVaultSetup();
  t.teardown(() => vault.cleanup());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-vault-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'broker.sock');
  const broker = startBrokerProcess(
    {
      SECRETS_BROKER_BACKEND: 'vault',
      SECRETS_BROKER_VAULT_ADDR: vault.double.addr,
      SECRETS_BROKER_VAULT_AUTH: 'kubernetes',
      SECRETS_BROKER_VAULT_ROLE: ROLE,
      SECRETS_BROKER_VAULT_JWT_FILE: vault.jwtFile,
      SECRETS_BROKER_SOCKET: socketPath,
      SECRETS_BROKER_LISTEN_PORT: '0',
      SECRETS_BROKER_CACHE_TTL_MS: '0',
      SECRETS_BROKER_RETRY_MAX_ATTEMPTS: '2',
    },
    dir,
  );
  t.teardown(() => broker.child.kill('SIGKILL'));
  await waitForOutput(broker, (text) => text.includes('serving the vault backend'));
  const token = (await readFile(path.join(dir, 'token'), 'utf8')).trim();
  const sock: Target = { socketPath };

  // Act + Assess: a session
  t.equal((await request(sock, 'GET', '/readyz')).status, 200, 'ready: logged in, Vault unsealed');
  const created = await request(sock, 'POST', '/secrets', { token, body: { id: 'payments/db', value: 'vault-one' } });
  t.equal(created.status, 201);
  t.equal(created.headers.etag, '"1"', 'the version is Vault’s version number');
  const put = await request(sock, 'PUT', '/secrets/payments/db', {
    token,
    body: { value: 'vault-two' },
    headers: { 'if-match': '"1"' },
  });
  t.equal(put.status, 200);
  const stale = await request(sock, 'PUT', '/secrets/payments/db', {
    token,
    body: { value: 'vault-lost' },
    headers: { 'if-match': '"1"' },
  });
  t.equal(stale.status, 412, 'a stale If-Match is refused');
  const old = await request(sock, 'GET', '/secrets/payments/db?version=1', { token });
  t.equal(old.json().value, 'vault-one', 'the previous version is readable');

  // Act + Assess: sealed, then unsealed
  vault.double.sealed = true;
  const sealedRead = await request(sock, 'GET', '/secrets/payments/db', { token });
  t.equal(sealedRead.status, 503, 'a sealed Vault is 503');
  t.ok(Number(sealedRead.headers['retry-after']) >= 1, 'with Retry-After');
  t.equal((await request(sock, 'GET', '/readyz')).status, 503, 'and not ready');
  vault.double.sealed = false;
  const recovered = await request(sock, 'GET', '/secrets/payments/db', { token });
  t.equal(recovered.json().value, 'vault-two', 'recovered without a restart');

  const deleted = await request(sock, 'DELETE', '/secrets/payments/db', { token });
  t.equal(deleted.status, 204);
  const recreate = await request(sock, 'POST', '/secrets', { token, body: { id: 'payments/db', value: 'x' } });
  t.equal(recreate.json().code, 'pending_deletion');

  broker.child.kill('SIGTERM');
  t.equal(await broker.exited, 0, 'SIGTERM stops it cleanly');
  t.notMatch(broker.output(), /vault-one|vault-two|vault-lost/, 'no value in its output');
});
