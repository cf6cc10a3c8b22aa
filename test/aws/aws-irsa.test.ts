/**
 * IRSA end to end: a child process with nothing but a web-identity token file, AWS_ROLE_ARN and a
 * region builds the backend from the SDK's default credential chain. STS (moto's, reached through
 * AWS_ENDPOINT_URL_STS) exchanges the token for temporary credentials, and every Secrets Manager
 * call is then signed with them. The fault proxy in front of moto records both conversations.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { MOTO_REGION, type MotoServer, motoForTest } from '../helpers/moto-server.js';

const run = promisify(execFile);
const moto = await motoForTest(t);

const ROLE_ARN = 'arn:aws:iam::123456789012:role/secrets-broker';
/** Shaped like a projected service-account token; moto's STS does not verify it. */
const WEB_IDENTITY_TOKEN =
  'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXBwOnNlY3JldHMtYnJva2VyIn0.c2lnbmF0dXJl';

interface ChildResult {
  value?: string;
  error?: string;
}

/** Runs irsa-child.ts with a pod-like environment: no keys, no profile files, no instance metadata. */
async function runAsPod(t: Test, proxy: FaultProxy, tokenFile: string | undefined): Promise<ChildResult> {
  const dir = await mkdtemp(join(tmpdir(), 'irsa-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    AWS_REGION: MOTO_REGION,
    AWS_ROLE_ARN: ROLE_ARN,
    AWS_ROLE_SESSION_NAME: 'secrets-broker-test',
    AWS_ENDPOINT_URL_STS: proxy.url,
    AWS_CONFIG_FILE: join(dir, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    ...(tokenFile ? { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile } : {}),
    // The TypeScript loader this test itself runs under, and its settings.
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(TS_NODE_|TAP_TYPE)/.test(k))),
  };
  const loader = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'));
  const child = join(import.meta.dirname, '..', 'fixtures', 'aws', 'irsa-child.ts');
  const { stdout } = await run(process.execPath, [...loader, child, proxy.url], { env, timeout: 60_000 });
  return JSON.parse(stdout) as ChildResult;
}

async function proxyToMoto(t: Test, moto: MotoServer): Promise<FaultProxy> {
  await moto.reset();
  const proxy = await startFaultProxy(moto.endpoint);
  t.teardown(() => proxy.close());
  return proxy;
}

/** The access key id a SigV4 Authorization header was signed with. */
function signingKey(authorization: unknown): string | undefined {
  return /Credential=([^/]+)\//.exec(String(authorization))?.[1];
}

if (moto) {
  t.test('a pod with only a web-identity token and a role ARN assumes the role and uses its credentials', async (t) => {
    // Prepare
    const proxy = await proxyToMoto(t, moto);
    const dir = await mkdtemp(join(tmpdir(), 'irsa-token-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, WEB_IDENTITY_TOKEN, { mode: 0o600 });

    // Act
    const result = await runAsPod(t, proxy, tokenFile);

    // Assess
    t.same(result, { value: 'written-as-the-pod' });
    const sts = proxy.seen.filter((s) => s.operation === 'AssumeRoleWithWebIdentity');
    t.equal(sts.length, 1, 'one STS exchange; the credentials are cached after it');
    const form = new URLSearchParams(sts[0]?.body ?? '');
    t.equal(form.get('RoleArn'), ROLE_ARN);
    t.equal(form.get('WebIdentityToken'), WEB_IDENTITY_TOKEN);
    const calls = proxy.seen.filter((s) => s.operation !== 'AssumeRoleWithWebIdentity');
    // A read is one GetSecretValue: description and tags come from what the create told the backend.
    t.same([...new Set(calls.map((s) => s.operation))].sort(), ['CreateSecret', 'GetSecretValue', 'ListSecrets']);
    const keys = new Set(calls.map((s) => signingKey(s.headers.authorization)));
    t.equal(keys.size, 1, 'every call signed with the same key');
    t.match([...keys][0], /^ASIA/, 'a temporary key issued by STS');
    t.ok(
      calls.every((s) => typeof s.headers['x-amz-security-token'] === 'string'),
      'every call carries the session token',
    );
  });

  t.test('without a token file the credentials do not resolve and the backend is not ready', async (t) => {
    // Prepare
    const proxy = await proxyToMoto(t, moto);

    // Act
    const result = await runAsPod(t, proxy, undefined);

    // Assess
    t.match(result, { error: 'backend_error' });
    t.equal(proxy.count(), 0, 'nothing was sent to AWS');
  });
}
