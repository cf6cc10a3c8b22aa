/**
 * The double's own contract, checked over raw HTTP against what Vault's API documentation says, so
 * the backend tests rest on documented behaviour rather than on the double agreeing with the backend.
 */
import t, { type Test } from 'tap';
import { serviceAccountClaims, startVaultDouble, type VaultDouble } from '../helpers/vault-double/index.js';
import { kvContractChecks, vaultCall } from './kv-contract.js';

function call(vault: VaultDouble, method: string, path: string, body?: unknown, token?: string) {
  return vaultCall({ addr: vault.addr, token: vault.rootToken }, method, path, body, token ?? vault.rootToken);
}

async function double(t: Test): Promise<VaultDouble> {
  const started = await startVaultDouble();
  t.teardown(() => started.close());
  return started;
}

t.test('KV v2 behaves as Vault documents it', async (t) => {
  const vault = await double(t);
  await kvContractChecks(t, { addr: vault.addr, token: vault.rootToken, mount: 'secret' });
});

t.test('auth: kubernetes login verifies the signature and the role bindings, then issues a token', async (t) => {
  // Prepare
  const vault = await double(t);
  vault.auth.writeRole('kubernetes', 'app', {
    bound_service_account_names: ['app'],
    bound_service_account_namespaces: ['prod'],
    audience: 'vault',
    token_ttl: 60,
  });
  const iat = Math.floor(vault.now() / 1000);
  const jwt = (audience: string, namespace = 'prod') =>
    vault.signer.sign(serviceAccountClaims({ namespace, serviceAccount: 'app', audience, issuedAt: iat }));

  // Act
  const ok = await call(vault, 'POST', 'auth/kubernetes/login', { role: 'app', jwt: jwt('vault') });
  const audience = await call(vault, 'POST', 'auth/kubernetes/login', { role: 'app', jwt: jwt('other') });
  const namespace = await call(vault, 'POST', 'auth/kubernetes/login', { role: 'app', jwt: jwt('vault', 'dev') });
  const role = await call(vault, 'POST', 'auth/kubernetes/login', { role: 'nope', jwt: jwt('vault') });
  const forged = await call(vault, 'POST', 'auth/kubernetes/login', {
    role: 'app',
    jwt: `${jwt('vault').slice(0, -4)}AAAA`,
  });

  // Assess
  t.match(ok.body, { auth: { client_token: /^hvs\./, lease_duration: 60, renewable: true } });
  t.same([audience.status, namespace.status, forged.status], [403, 403, 403]);
  t.same([role.status, role.body], [400, { errors: ['invalid role name "nope"'] }]);
});

t.test('auth: tokens expire, renew up to their max TTL, and answer 403 once gone', async (t) => {
  // Prepare
  const vault = await double(t);
  const token = vault.auth.issue({ policies: ['default'], ttlSeconds: 60, maxTtlSeconds: 90 }).id;

  // Act
  vault.advance(30_000);
  const renewed = await call(vault, 'POST', 'auth/token/renew-self', {}, token);
  const lookup = await call(vault, 'GET', 'auth/token/lookup-self', undefined, token);
  vault.advance(61_000);
  const expired = await call(vault, 'GET', 'auth/token/lookup-self', undefined, token);

  // Assess
  t.match(renewed.body, { auth: { lease_duration: 60 } });
  t.match(lookup.body, { data: { ttl: 60, renewable: true } });
  t.equal(expired.status, 403);
  t.match(expired.body, { errors: [/permission denied/] });
});

t.test('auth: the default policy allows token self-service but not secrets', async (t) => {
  // Prepare
  const vault = await double(t);
  const token = vault.auth.issue({ policies: ['default'], ttlSeconds: 60 }).id;

  // Act
  const self = await call(vault, 'GET', 'auth/token/lookup-self', undefined, token);
  const secret = await call(vault, 'GET', 'secret/data/x', undefined, token);

  // Assess
  t.same([self.status, secret.status], [200, 403]);
});

t.test('sys/health answers 200, 503 when sealed and 501 when not initialized; sealed refuses the rest', async (t) => {
  // Prepare
  const vault = await double(t);

  // Act
  const active = await call(vault, 'GET', 'sys/health');
  vault.sealed = true;
  const sealed = await call(vault, 'GET', 'sys/health');
  const refused = await call(vault, 'GET', 'secret/data/x');
  vault.sealed = false;
  vault.initialized = false;
  const uninit = await call(vault, 'GET', 'sys/health');

  // Assess
  t.match([active.status, active.body], [200, { initialized: true, sealed: false }]);
  t.match([sealed.status, sealed.body], [503, { sealed: true }]);
  t.same([refused.status, refused.body], [503, { errors: ['Vault is sealed'] }]);
  t.match([uninit.status, uninit.body], [501, { initialized: false }]);
});

t.test('the LIST verb is accepted like GET ?list=true and recorded as LIST', async (t) => {
  // Prepare
  const vault = await double(t);
  await call(vault, 'POST', 'secret/data/dir/a', { data: { v: '1' } });

  // Act
  const listed = await call(vault, 'LIST', 'secret/metadata/dir');

  // Assess
  t.match(listed.body, { data: { keys: ['a'] } });
  t.equal(vault.count('LIST', 'secret/metadata/dir'), 1);
});

t.test('a quota answers 429 with Retry-After, and requests are counted per path', async (t) => {
  // Prepare
  const vault = await double(t);
  vault.quota = { retryAfterSeconds: 3 };

  // Act
  const limited = await call(vault, 'GET', 'secret/data/x');

  // Assess
  t.equal(limited.status, 429);
  t.equal(limited.headers.get('retry-after'), '3');
  t.equal(vault.count('GET', 'secret/data/x'), 1);
});
