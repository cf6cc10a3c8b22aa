/**
 * A broker that cannot start says why in one line naming the setting to change. It never follows a symbolic link at a path it creates or trusts: with one at the
 * token, socket or key file path it exits 1 with a message naming that path, and leaves nothing
 * behind (no temp file, nothing written through the link).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { MAIN, startBrokerProcess } from '../helpers/broker-process.js';

t.before(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does it first)`);
});

/** A working directory with the paths a broker uses, and the environment pointing at them. */
async function brokerPaths(t: Test) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-refuse-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const run = path.join(dir, 'run');
  await mkdir(run);
  const paths = {
    dir,
    run,
    socket: path.join(run, 'broker.sock'),
    token: path.join(run, 'token'),
    keyFile: path.join(dir, 'store.key'),
  };
  const env = {
    SECRETS_BROKER_SOCKET: paths.socket,
    SECRETS_BROKER_TOKEN_FILE: paths.token,
    SECRETS_BROKER_LISTEN_PORT: '0',
    SECRETS_BROKER_FILE_DIR: path.join(dir, 'store'),
    SECRETS_BROKER_FILE_KEY_FILE: paths.keyFile,
  };
  return { paths, env };
}

/** Runs the broker to its exit; one that keeps running is killed and reported by a null code. */
async function runToExit(t: Test, env: Record<string, string>, cwd: string) {
  const broker = startBrokerProcess(env, cwd);
  const guard = setTimeout(() => broker.child.kill('SIGKILL'), 20_000);
  t.teardown(() => {
    clearTimeout(guard);
    broker.child.kill('SIGKILL');
  });
  const code = await broker.exited;
  clearTimeout(guard);
  return { code, output: broker.output() };
}

async function tempFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((name) => name.endsWith('.tmp'));
}

t.test('a dangling symbolic link at the token path stops the broker with exit 1, naming the path', async (t) => {
  // Prepare
  const { paths, env } = await brokerPaths(t);
  const target = path.join(paths.dir, 'planted-token');
  await symlink(target, paths.token);

  // Act
  const { code, output } = await runToExit(t, env, paths.dir);

  // Assess
  t.equal(code, 1);
  t.match(output, `token file ${paths.token} is a symbolic link`);
  t.match(output, 'or set SECRETS_BROKER_TOKEN_FILE to another path', 'the sentence names the setting too');
  t.same(await tempFilesUnder(paths.dir), [], 'no temp file left');
  t.equal(existsSync(target), false, 'nothing written through the link');
});

t.test('a symbolic link from the token path to another file never makes that file the token', async (t) => {
  // Prepare
  const { paths, env } = await brokerPaths(t);
  const other = path.join(paths.dir, 'app.conf');
  await writeFile(other, 'a-file-that-would-pass-as-a-token\n');
  await symlink(other, paths.token);

  // Act
  const { code, output } = await runToExit(t, env, paths.dir);

  // Assess
  t.equal(code, 1);
  t.match(output, `token file ${paths.token} is a symbolic link`);
  t.match(output, 'or set SECRETS_BROKER_TOKEN_FILE to another path', 'the sentence names the setting too');
  t.equal(await readFile(other, 'utf8'), 'a-file-that-would-pass-as-a-token\n');
});

t.test('a symbolic link at the socket path stops the broker with exit 1, naming the path', async (t) => {
  // Prepare
  const { paths, env } = await brokerPaths(t);
  await symlink(path.join(paths.dir, 'elsewhere.sock'), paths.socket);

  // Act
  const { code, output } = await runToExit(t, env, paths.dir);

  // Assess
  t.equal(code, 1);
  t.match(output, `socket path ${paths.socket} is a symbolic link`);
  t.match(output, 'or set SECRETS_BROKER_SOCKET to another path', 'the sentence names the setting too');
  t.equal(existsSync(path.join(paths.dir, 'elsewhere.sock')), false, 'nothing bound through the link');
});

t.test('a symbolic link at the file store key path stops the broker with exit 1, naming the path', async (t) => {
  // Prepare
  const { paths, env } = await brokerPaths(t);
  await symlink(path.join(paths.dir, 'planted.key'), paths.keyFile);

  // Act
  const { code, output } = await runToExit(t, env, paths.dir);

  // Assess
  t.equal(code, 1);
  t.match(output, `file store path '${paths.keyFile}' is a symbolic link`);
  t.same(await tempFilesUnder(paths.dir), [], 'no temp file left');
  t.equal(existsSync(path.join(paths.dir, 'planted.key')), false, 'no key written through the link');
});

/** The last line of the output: where `serve` says why it stopped (Fastify logs its binds before). */
function lastLine(output: string): string {
  return output.trimEnd().split('\n').at(-1) ?? '';
}

/** Holds a loopback port, as another process would, until the test ends. */
async function occupiedPort(t: Test): Promise<number> {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  return (holder.address() as net.AddressInfo).port;
}

t.test('a busy API port stops the broker with exit 1 and one line naming SECRETS_BROKER_LISTEN_PORT', async (t) => {
  // Prepare
  const { paths, env } = await brokerPaths(t);
  const port = await occupiedPort(t);

  // Act
  const { code, output } = await runToExit(t, { ...env, SECRETS_BROKER_LISTEN_PORT: String(port) }, paths.dir);

  // Assess
  t.equal(code, 1);
  t.notMatch(output, /\n\s+at |"level":"fatal"/, 'no stack and no log record of the failure');
  t.equal(
    lastLine(output),
    `secrets-broker: 127.0.0.1 port ${port} is already in use by another process: set SECRETS_BROKER_LISTEN_PORT to a free port, or to 0 to turn the TCP listener off`,
  );
  t.equal(existsSync(paths.socket), false, 'the socket it had bound is removed');
});

t.test('a busy health port names SECRETS_BROKER_HEALTH_LISTEN_PORT instead', async (t) => {
  // Prepare
  const { paths, env } = await brokerPaths(t);
  const port = await occupiedPort(t);
  const healthEnv = { SECRETS_BROKER_HEALTH_LISTEN_HOST: '127.0.0.1', SECRETS_BROKER_HEALTH_LISTEN_PORT: String(port) };

  // Act
  const { code, output } = await runToExit(t, { ...env, ...healthEnv }, paths.dir);

  // Assess
  t.equal(code, 1);
  t.match(
    lastLine(output),
    /^secrets-broker: 127\.0\.0\.1 port \d+ is already in use by another process: set SECRETS_BROKER_HEALTH_LISTEN_PORT to a free port, or to 0 to turn the health listener off$/,
  );
});

t.test('a key file that holds no usable key stops the broker with exit 2, naming the setting', async (t) => {
  // Prepare
  const { paths, env } = await brokerPaths(t);
  await writeFile(paths.keyFile, 'not a key\n');

  // Act
  const { code, output } = await runToExit(t, env, paths.dir);

  // Assess
  t.equal(code, 2);
  t.match(
    lastLine(output),
    /^secrets-broker: invalid configuration: file\.keyFile \(SECRETS_BROKER_FILE_KEY_FILE, .*store\.key\) is not a usable key: .*32-byte key/,
  );
});

t.test('a key that does not open the existing store stops the broker with exit 2, naming the setting', async (t) => {
  // Prepare: a first broker creates the store under its key file, then stops at the planted token link
  const { paths, env } = await brokerPaths(t);
  await symlink(path.join(paths.dir, 'elsewhere'), paths.token);
  const first = await runToExit(t, env, paths.dir);
  t.equal(first.code, 1, 'the first broker created the store and stopped');
  await rm(paths.token);
  const otherKey = Buffer.alloc(32, 7).toString('base64');

  // Act
  const { code, output } = await runToExit(t, { ...env, SECRETS_BROKER_FILE_KEY: otherKey }, paths.dir);

  // Assess
  t.equal(code, 2);
  t.match(
    lastLine(output),
    /^secrets-broker: invalid configuration: file\.key \(SECRETS_BROKER_FILE_KEY\) does not open the store in .*: give the key it was created with$/,
  );
  t.notMatch(output, otherKey, 'the key itself is never echoed');
});

t.test('a Vault CA file that cannot be read stops the broker with exit 2, naming the setting', async (t) => {
  // Prepare: nothing is contacted before the CA file is read
  const { paths, env } = await brokerPaths(t);
  const caFile = path.join(paths.dir, 'missing-ca.pem');
  const vaultEnv = {
    SECRETS_BROKER_BACKEND: 'vault',
    SECRETS_BROKER_VAULT_ADDR: 'https://127.0.0.1:9',
    SECRETS_BROKER_VAULT_AUTH: 'token',
    VAULT_TOKEN: 'hvs.not-a-real-token',
    SECRETS_BROKER_VAULT_CA_FILE: caFile,
  };

  // Act
  const { code, output } = await runToExit(t, { ...env, ...vaultEnv }, paths.dir);

  // Assess
  t.equal(code, 2);
  t.equal(
    lastLine(output),
    `secrets-broker: invalid configuration: vault.caFile (SECRETS_BROKER_VAULT_CA_FILE, ${caFile}) cannot be read (ENOENT)`,
  );
});
