import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { createVaultBackend } from '../../agent/backends/vault/index.js';
import { startVaultDouble } from '../helpers/vault-double/index.js';
import { codeOf } from './outcome.js';

const run = promisify(execFile);

/** A self-signed certificate for 127.0.0.1 from the openssl CLI, or undefined when it is missing. */
async function selfSignedCertificate(
  dir: string,
): Promise<{ key: string; cert: string; certFile: string } | undefined> {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  try {
    await run(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'].concat([
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ]),
      { timeout: 30_000 },
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile };
}

t.test('TLS: Vault’s certificate verifies against caFile, and fails without it as a non-transient error', async (t) => {
  // Prepare
  const dir = await mkdtemp(join(tmpdir(), 'vault-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tls = await selfSignedCertificate(dir);
  if (!tls) {
    // CI installs openssl; a missing tool there must fail, not pass quietly.
    if (process.env.CI === 'true') t.fail('openssl is required for the TLS test in CI');
    else t.skip('openssl is not installed: TLS verification against caFile not tested', () => {});
    return;
  }
  const double = await startVaultDouble({ tls: { key: tls.key, cert: tls.cert } });
  t.teardown(() => double.close());
  const options = {
    addr: double.addr,
    mount: 'secret',
    auth: 'token' as const,
    token: double.rootToken,
    jwtFile: '/nonexistent',
    listMaxKeys: 100,
    requestTimeoutMs: 5000,
  };
  const trusting = createVaultBackend({ ...options, caFile: tls.certFile });
  const untrusting = createVaultBackend(options);
  t.teardown(() => Promise.all([trusting.close(), untrusting.close()]));

  // Act
  await trusting.create({ id: 'a', value: 'v', encoding: 'utf8' });
  const read = await trusting.get('a', undefined);
  const refused = await codeOf(untrusting.get('a', undefined));

  // Assess
  t.match(double.addr, /^https:/);
  t.equal(read.value, 'v');
  t.equal(refused, 'backend_error');
});
