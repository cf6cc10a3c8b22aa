import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { serviceAccountClaims } from '../helpers/vault-double/index.js';
import { codeOf, errorOf } from './outcome.js';
import { AUDIENCE, NAMESPACE, ROLE, SERVICE_ACCOUNT, vaultFixture } from './vault-fixture.js';

const HOUR = 3_600_000;

const logins = (double: { count(m: string | undefined, p: string | RegExp): number }) =>
  double.count('POST', /^auth\/(kubernetes|jwt)\/login$/);

t.test('logs in with the role and the service-account token from the file', async (t) => {
  // Prepare
  const { backend, double, jwtFile } = await vaultFixture(t);

  // Act
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });

  // Assess
  t.equal(logins(double), 1);
  const { readFile } = await import('node:fs/promises');
  t.same(double.auth.loginsSeen, [(await readFile(jwtFile, 'utf8')).trim()]);
  const data = double.requests.find((r) => r.path === 'secret/data/a');
  t.match(data?.token, /^hvs\./, 'the data call carries the login token');
});

t.test('a token that expires mid-session is replaced without a failed request', async (t) => {
  // Prepare
  const { backend, double, rotateJwt } = await vaultFixture(t, { role: { token_ttl: 60, token_max_ttl: 120 } });
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });

  // Act: the token lapses (well past its max TTL) while the broker is idle
  double.advance(HOUR);
  await rotateJwt();
  const read = await backend.get('a', undefined);

  // Assess
  t.equal(read.value, 'v');
  t.equal(logins(double), 2);
  t.notOk(
    double.requests.some(
      (r) => r.path === 'secret/data/a' && r.method === 'GET' && double.auth.find(r.token) === undefined,
    ),
    'no data request went out with the dead token',
  );
});

t.test(
  'a token Vault revoked behind the broker’s back is replaced after one 403 and the request retried',
  async (t) => {
    // Prepare
    const { backend, double } = await vaultFixture(t);
    await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });

    // Act
    double.auth.revokeAll();
    const read = await backend.get('a', undefined);

    // Assess
    t.equal(read.value, 'v');
    t.equal(logins(double), 2);
    t.equal(double.count('GET', 'auth/token/lookup-self'), 1, 'the token was checked before logging in again');
    t.equal(double.count('GET', 'secret/data/a'), 2, 'the request ran once more');
  },
);

t.test('the token is renewed at two thirds of its TTL instead of logging in again', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t, { role: { token_ttl: 90, token_max_ttl: 3600 } });
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });

  // Act
  double.advance(50_000);
  await backend.get('a', undefined); // not yet due
  double.advance(15_000);
  await backend.get('a', undefined); // 65 of 90 seconds: renew

  // Assess
  t.equal(double.count('POST', 'auth/token/renew-self'), 1, 'renewed once, past 60 of 90 seconds');
  t.equal(logins(double), 1);
});

t.test('a token that cannot be renewed (batch) is replaced by a fresh login', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t, { role: { token_ttl: 90, token_type: 'batch' } });
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });

  // Act
  double.advance(61_000);
  await backend.get('a', undefined);

  // Assess
  t.equal(double.count('POST', 'auth/token/renew-self'), 0);
  t.equal(logins(double), 2);
});

t.test('when renewal is capped by the max TTL the next refresh is a login', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t, { role: { token_ttl: 90, token_max_ttl: 100 } });
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });

  // Act
  double.advance(61_000);
  await backend.get('a', undefined); // renews, but only 39 s are left before the max TTL
  double.advance(30_000);
  await backend.get('a', undefined);

  // Assess
  t.equal(double.count('POST', 'auth/token/renew-self'), 1);
  t.equal(logins(double), 2);
});

t.test('a renewal cut short by the max TTL ends the token: a fresh login at two thirds of what is left', async (t) => {
  // Prepare: a 90 s token that can live 150 s in all
  const { backend, double } = await vaultFixture(t, { role: { token_ttl: 90, token_max_ttl: 150 } });
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });
  double.advance(61_000);
  await backend.get('a', undefined); // renews for 90 s, granted 89 s: capped
  const renewal = double.requests.find((r) => r.path === 'auth/token/renew-self');

  // Act: two thirds of the 89 s left have passed
  double.advance(60_000);
  const read = await backend.get('a', undefined);

  // Assess
  t.equal(read.value, 'v');
  t.ok(renewal, 'the first refresh was a renewal');
  t.equal(double.count('POST', 'auth/token/renew-self'), 1, 'the capped token is not renewed again');
  t.equal(logins(double), 2, 'a fresh login, with 29 s of the old token left');
  const reads = double.requests.filter((r) => r.path === 'secret/data/a');
  t.not(reads.at(-1)?.token, reads[0]?.token, 'the read used the new token');
});

t.test('a rotated service-account token file is picked up at the next login', async (t) => {
  // Prepare
  const { backend, double, rotateJwt } = await vaultFixture(t);
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });
  const rotated = await rotateJwt({ lifetimeSeconds: 7200 });

  // Act
  double.auth.revokeAll();
  await backend.get('a', undefined);

  // Assess
  t.equal(double.auth.loginsSeen.length, 2);
  t.equal(double.auth.loginsSeen[1], rotated);
});

t.test('a login with the wrong audience, service account or role is forbidden', async (t) => {
  // Prepare
  const { double, dir, makeBackend } = await vaultFixture(t);
  const sign = async (name: string, audience: string, serviceAccount: string) => {
    const file = join(dir, name);
    const claims = serviceAccountClaims({
      namespace: NAMESPACE,
      serviceAccount,
      audience,
      issuedAt: Math.floor(double.now() / 1000),
    });
    await writeFile(file, double.signer.sign(claims));
    return file;
  };
  const wrongAudience = makeBackend({ jwtFile: await sign('aud', 'kubernetes', SERVICE_ACCOUNT) });
  const wrongAccount = makeBackend({ jwtFile: await sign('sa', AUDIENCE, 'intruder') });
  const wrongRole = makeBackend({ role: 'no-such-role' });

  // Act
  const codes = await Promise.all([wrongAudience, wrongAccount, wrongRole].map((b) => codeOf(b.get('a', undefined))));

  // Assess
  t.same(codes, ['forbidden', 'forbidden', 'forbidden']);
});

t.test('jwt auth logs in at auth/jwt/login, and a refused JWT (400 from that method) is forbidden', async (t) => {
  // Prepare
  const { double, makeBackend } = await vaultFixture(t);
  double.auth.writeRole('jwt', ROLE, { bound_audiences: [AUDIENCE], token_policies: [ROLE], token_ttl: 600 });
  double.auth.writeRole('jwt', 'other-audience', { bound_audiences: ['elsewhere'], token_policies: [ROLE] });
  const good = makeBackend({ auth: 'jwt' });
  const refused = makeBackend({ auth: 'jwt', role: 'other-audience' });

  // Act
  await good.create({ id: 'a', value: 'v', encoding: 'utf8' });
  const code = await codeOf(refused.get('a', undefined));

  // Assess
  t.equal(double.count('POST', 'auth/jwt/login'), 2);
  t.equal(code, 'forbidden');
});

t.test('a custom auth mount is used as given', async (t) => {
  // Prepare
  const { double, makeBackend } = await vaultFixture(t);
  double.auth.enable('k8s-prod', 'kubernetes', double.signer.publicKey);
  double.auth.writeRole('k8s-prod', ROLE, {
    bound_service_account_names: ['*'],
    bound_service_account_namespaces: ['*'],
    token_policies: [ROLE],
  });
  const backend = makeBackend({ authMount: 'k8s-prod' });

  // Act
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });

  // Assess
  t.equal(double.count('POST', 'auth/k8s-prod/login'), 1);
});

t.test('failed logins back off: meanwhile requests fail fast without calling Vault', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t, { role: { audience: 'something-else' } });

  // Act
  const first = await errorOf(backend.get('a', undefined));
  const second = await errorOf(backend.get('a', undefined));
  double.advance(31_000);
  const third = await errorOf(backend.get('a', undefined));

  // Assess
  t.equal(first.code, 'forbidden');
  t.equal(second.code, 'forbidden');
  t.ok((second.retryAfterMs ?? 0) > 0, 'says when to try again');
  t.equal(third.code, 'forbidden');
  t.equal(logins(double), 2, 'the second request did not reach Vault; the third, after the backoff, did');
});

t.test('a 403 from the policy (valid token) is forbidden without logging in again', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  double.setPolicy(ROLE, 'path "secret/data/allowed/*" { capabilities = ["read", "create", "update"] }');

  // Act
  const code = await codeOf(backend.get('denied/x', undefined));

  // Assess
  t.equal(code, 'forbidden');
  t.equal(logins(double), 1);
});

t.test(
  'token auth uses the token file, re-reads it when Vault stops accepting the token, and never revokes it',
  async (t) => {
    // Prepare
    const { double, dir, makeBackend } = await vaultFixture(t);
    double.setPolicy('ops', 'path "secret/*" { capabilities = ["create", "read", "update", "delete", "list"] }');
    const tokenFile = join(dir, 'vault-token');
    await writeFile(tokenFile, double.auth.issue({ policies: ['default', 'ops'], ttlSeconds: 3600 }).id);
    const backend = makeBackend({ auth: 'token', tokenFile });
    await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });

    // Act
    double.auth.revokeAll();
    const replacement = double.auth.issue({ policies: ['default', 'ops'], ttlSeconds: 3600 }).id;
    await writeFile(tokenFile, replacement);
    const read = await backend.get('a', undefined);
    await backend.close();

    // Assess
    t.equal(read.value, 'v');
    t.equal(logins(double), 0);
    t.equal(double.count(undefined, 'auth/token/revoke-self'), 0);
    t.ok(double.auth.find(replacement), 'the configured token is still valid after close');
  },
);

t.test('token auth with a token Vault does not know is forbidden', async (t) => {
  // Prepare
  const { makeBackend } = await vaultFixture(t);
  const backend = makeBackend({ auth: 'token', token: 'hvs.not-a-token' });

  // Act
  const code = await codeOf(backend.get('a', undefined));

  // Assess
  t.equal(code, 'forbidden');
});

t.test('close revokes a token the backend logged in for', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });
  const token = double.requests.find((r) => r.path === 'secret/data/a')?.token;

  // Act
  await backend.close();

  // Assess
  t.equal(double.count('POST', 'auth/token/revoke-self'), 1);
  t.notOk(double.auth.find(token));
});

t.test('the namespace travels as X-Vault-Namespace on every request', async (t) => {
  // Prepare
  const { double, makeBackend } = await vaultFixture(t);
  const backend = makeBackend({ namespace: 'team-a' });

  // Act
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });

  // Assess
  t.ok(double.requests.length > 0);
  t.ok(
    double.requests.every((r) => r.namespace === 'team-a'),
    'login and data calls alike',
  );
});

t.test('ready() needs an unsealed, initialized Vault and a token that passes lookup-self', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);

  // Act
  const healthy = await codeOf(backend.ready({ signal: new AbortController().signal }));
  double.sealed = true;
  const sealed = await errorOf(backend.ready());
  double.sealed = false;
  double.initialized = false;
  const uninitialized = await codeOf(backend.ready());
  double.initialized = true;
  const recovered = await codeOf(backend.ready());

  // Assess
  t.equal(healthy, 'resolved');
  t.equal(sealed.code, 'backend_unavailable');
  t.ok((sealed.retryAfterMs ?? 0) > 0);
  t.equal(uninitialized, 'backend_unavailable');
  t.equal(recovered, 'resolved');
  t.ok(double.count('GET', 'auth/token/lookup-self') >= 2);
});
