import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { serveHelp, USAGE } from '../../agent/config/help.js';
import { ConfigError, type LoadedConfig, loadConfig } from '../../agent/config/loader.js';
import { configLeaves } from '../../agent/config/schema.js';
import { allowedValues } from '../../agent/config/value-text.js';

const CWD = '/srv/app';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function load(env: Record<string, string> = {}): LoadedConfig {
  return loadConfig(env, CWD);
}

/** The ConfigError message loading `env` throws; fails the test if it loads. */
function configError(env: Record<string, string>): string {
  try {
    load(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

async function configFile(t: Test, name: string, text: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

function leaf(key: string) {
  const found = configLeaves().find((l) => l.key === key);
  if (!found) throw new Error(`no config key ${key}`);
  return found;
}

t.test('with nothing set, the documented defaults apply and derived paths sit beside the socket', async (t) => {
  // Act
  const { config, warnings, configFile: file } = load();

  // Assess
  t.equal(config.backend, 'file');
  t.equal(config.socket.path, '/srv/app/.secrets-broker/broker.sock');
  t.equal(config.socket.mode, '0660');
  t.equal(config.auth.tokenFile, '/srv/app/.secrets-broker/token');
  t.equal(config.lock.dir, '/srv/app/.secrets-broker/locks');
  t.same(config.listen, { host: '127.0.0.1', port: 2774 });
  t.equal(config.health.port, 0, 'the health listener is off');
  t.equal(config.file.dir, '/srv/app/.secrets-broker/store');
  t.equal(config.file.keyFile, '/srv/app/.secrets-broker/store.key', 'the key file sits beside the store');
  t.equal(config.log.level, 'info');
  t.equal(config.cache.ttlMs, 60_000);
  t.equal(config.request.timeoutMs, 10_000, 'a request has 10 s to arrive');
  t.same(
    [config.vault.mount, config.vault.auth, config.vault.jwtFile],
    ['secret', 'kubernetes', '/var/run/secrets/kubernetes.io/serviceaccount/token'],
  );
  t.same(config.policy, {});
  t.same(warnings, []);
  t.equal(file, undefined);
});

t.test('token file and lock dir follow a configured socket; explicit values win', async (t) => {
  // Act
  const moved = load({ SECRETS_BROKER_SOCKET: '/run/secrets-broker/broker.sock' }).config;
  const relative = load({ SECRETS_BROKER_SOCKET: 'sock/b.sock', SECRETS_BROKER_FILE_DIR: 'data/store' }).config;
  const explicit = load({
    SECRETS_BROKER_SOCKET: '/run/secrets-broker/broker.sock',
    SECRETS_BROKER_TOKEN_FILE: '/etc/sb/token',
    SECRETS_BROKER_LOCK_DIR: 'shared/locks',
    SECRETS_BROKER_FILE_KEY_FILE: '/etc/sb/store.key',
  }).config;

  // Assess
  t.equal(moved.auth.tokenFile, '/run/secrets-broker/token');
  t.equal(moved.lock.dir, '/run/secrets-broker/locks');
  t.equal(relative.socket.path, '/srv/app/sock/b.sock', 'relative paths resolve against the working directory');
  t.equal(relative.auth.tokenFile, '/srv/app/sock/token');
  t.equal(relative.file.keyFile, '/srv/app/data/store.key');
  t.equal(explicit.auth.tokenFile, '/etc/sb/token');
  t.equal(explicit.lock.dir, '/srv/app/shared/locks');
  t.equal(explicit.file.keyFile, '/etc/sb/store.key');
});

t.test('a JSON config file and a YAML config file are both read', async (t) => {
  // Prepare
  const json = await configFile(t, 'c.json', '{"listen": {"port": 8123}, "log": {"level": "debug"}}');
  const yaml = await configFile(t, 'c.yaml', 'listen:\n  port: 8124\npolicy:\n  read: ["^app/"]\n');

  // Act
  const fromJson = load({ SECRETS_BROKER_CONFIG: json });
  const fromYaml = load({ SECRETS_BROKER_CONFIG: yaml });

  // Assess
  t.equal(fromJson.config.listen.port, 8123);
  t.equal(fromJson.config.log.level, 'debug');
  t.equal(fromJson.configFile, json);
  t.equal(fromYaml.config.listen.port, 8124);
  t.same(fromYaml.config.policy.read, ['^app/']);
  t.equal(fromYaml.config.listen.host, '127.0.0.1', 'keys the file leaves out keep their defaults');
});

t.test('the environment overrides the file, key by key', async (t) => {
  // Prepare
  const file = await configFile(t, 'c.yaml', 'listen:\n  port: 8123\nlog:\n  level: debug\n');

  // Act
  const { config } = load({ SECRETS_BROKER_CONFIG: file, SECRETS_BROKER_LISTEN_PORT: '9000' });

  // Assess
  t.equal(config.listen.port, 9000);
  t.equal(config.log.level, 'debug');
});

t.test('an unknown key in the file is an error naming it and the allowed keys', async (t) => {
  // Prepare
  const nested = await configFile(t, 'nested.yaml', 'listen:\n  prot: 8123\n');
  const top = await configFile(t, 'top.json', '{"bakend": "file"}');

  // Act
  const nestedMessage = configError({ SECRETS_BROKER_CONFIG: nested });
  const topMessage = configError({ SECRETS_BROKER_CONFIG: top });

  // Assess
  t.match(nestedMessage, "unknown config key 'listen.prot'");
  t.match(nestedMessage, 'listen.host, listen.port');
  t.match(nestedMessage, nested, 'names the file');
  t.match(topMessage, "unknown config key 'bakend'");
  t.match(topMessage, /backend, socket\.path/);
});

t.test('a wrong type in the file names the key, its env name and the allowed values', async (t) => {
  // Prepare
  const port = await configFile(t, 'port.yaml', 'listen:\n  port: "eighty"\n');
  const section = await configFile(t, 'section.yaml', 'listen: 8080\n');
  const list = await configFile(t, 'list.yaml', 'policy:\n  read: [1]\n');
  const scalarList = await configFile(t, 'scalar-list.yaml', 'policy:\n  read: "^app/"\n');

  // Act and assess
  t.match(
    configError({ SECRETS_BROKER_CONFIG: port }),
    "listen.port (SECRETS_BROKER_LISTEN_PORT) is 'eighty': must be an integer from 0 to 65535",
  );
  t.match(configError({ SECRETS_BROKER_CONFIG: section }), 'listen must be a mapping with the keys listen.host');
  t.match(
    configError({ SECRETS_BROKER_CONFIG: list }),
    /^policy\.read \(SECRETS_BROKER_POLICY_READ\).*list of strings/,
  );
  t.match(configError({ SECRETS_BROKER_CONFIG: scalarList }), /^policy\.read .*list of strings/);
});

t.test('a file that cannot be used is an error naming it', async (t) => {
  // Prepare
  const list = await configFile(t, 'list.yaml', '- a\n- b\n');
  const broken = await configFile(t, 'broken.yaml', 'file:\n  key: [abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG=\n');
  const empty = await configFile(t, 'empty.yaml', '');

  // Act and assess
  t.match(configError({ SECRETS_BROKER_CONFIG: '/nonexistent/c.yaml' }), /cannot read .*\/nonexistent\/c\.yaml/);
  t.match(configError({ SECRETS_BROKER_CONFIG: list }), /must hold a mapping/);
  const brokenMessage = configError({ SECRETS_BROKER_CONFIG: broken });
  t.match(brokenMessage, /neither valid YAML nor JSON: .* at line \d+, column \d+$/, 'says where, ending on it');
  t.notMatch(brokenMessage, /abcdefghijklmnop/, 'the parser’s quote of the source (a key, maybe) is not repeated');
  t.equal(load({ SECRETS_BROKER_CONFIG: empty }).config.backend, 'file', 'an empty file is no settings');
});

t.test('file store settings out of range are refused by the loader, naming the setting', async (t) => {
  // Act
  const noVersions = configError({ SECRETS_BROKER_FILE_VERSIONS_KEPT: '1' });
  const noWindow = configError({ SECRETS_BROKER_FILE_RECOVERY_WINDOW_DAYS: '0' });

  // Assess
  t.match(noVersions, /^file\.versionsKept \(SECRETS_BROKER_FILE_VERSIONS_KEPT\)/);
  t.match(noWindow, /^file\.recoveryWindowDays \(SECRETS_BROKER_FILE_RECOVERY_WINDOW_DAYS\)/);
});

t.test('the API and health listeners on one port is an error naming both settings', async (t) => {
  // Act
  const message = configError({ SECRETS_BROKER_LISTEN_PORT: '8081', SECRETS_BROKER_HEALTH_LISTEN_PORT: '8081' });

  // Assess
  t.match(message, /SECRETS_BROKER_HEALTH_LISTEN_PORT.*SECRETS_BROKER_LISTEN_PORT/);
  t.equal(load({ SECRETS_BROKER_LISTEN_PORT: '0', SECRETS_BROKER_HEALTH_LISTEN_PORT: '0' }).config.health.port, 0);
});

t.test('the request timeout is set from the environment', async (t) => {
  // Act
  const { config } = load({ SECRETS_BROKER_REQUEST_TIMEOUT_MS: '2500' });

  // Assess
  t.equal(config.request.timeoutMs, 2500);
});

t.test('invalid environment values name the key, the env name and what is allowed', async (t) => {
  // Prepare: [env name, value, key]
  const cases: [string, string, string][] = [
    ['SECRETS_BROKER_LISTEN_PORT', '70000', 'listen.port'],
    ['SECRETS_BROKER_LISTEN_PORT', 'abc', 'listen.port'],
    ['SECRETS_BROKER_LISTEN_PORT', '-1', 'listen.port'],
    ['SECRETS_BROKER_BACKEND', 'gcp', 'backend'],
    ['SECRETS_BROKER_LOG_LEVEL', 'verbose', 'log.level'],
    ['SECRETS_BROKER_CACHE_TTL_JITTER', '0.9', 'cache.jitterRatio'],
    ['SECRETS_BROKER_SOCKET_MODE', '999', 'socket.mode'],
    ['SECRETS_BROKER_LOCK_STALE_MS', '1000', 'lock.staleMs'],
    ['SECRETS_BROKER_RETRY_MAX_ATTEMPTS', '0', 'retry.maxAttempts'],
    ['SECRETS_BROKER_CACHE_TTL_MS', '1.5', 'cache.ttlMs'],
    ['SECRETS_BROKER_AWS_ENDPOINT', 'ftp://x', 'aws.endpoint'],
    ['SECRETS_BROKER_VAULT_AUTH', 'approle', 'vault.auth'],
    ['SECRETS_BROKER_REQUEST_TIMEOUT_MS', '500', 'request.timeoutMs'],
  ];

  for (const [env, value, key] of cases) {
    // Act
    const message = configError({ [env]: value });

    // Assess
    t.match(message, `${key} (${env})`, `${env}=${value}: names the key and env`);
    t.match(message, `must be ${allowedValues(leaf(key).schema)}`, `${env}=${value}: says what is allowed`);
  }
  t.match(configError({ SECRETS_BROKER_BACKEND: 'gcp' }), 'one of file, aws, vault');
});

t.test('an invalid file key is reported without echoing the key', async (t) => {
  // Prepare: 32 bytes in base64url, the wrong alphabet: a real key, mistyped.
  const key = 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJ-_0=';

  // Act
  const message = configError({ SECRETS_BROKER_FILE_KEY: key });

  // Assess
  t.match(message, 'file.key (SECRETS_BROKER_FILE_KEY)');
  t.notMatch(message, key.slice(0, 12));
});

t.test('an empty environment variable counts as unset', async (t) => {
  // Act and assess
  t.equal(load({ SECRETS_BROKER_LISTEN_PORT: '' }).config.listen.port, 2774);
});

t.test('list settings are comma-separated in the environment', async (t) => {
  // Act
  const { config } = load({ SECRETS_BROKER_POLICY_READ: '^app/, ^shared/ ,' });

  // Assess
  t.same(config.policy.read, ['^app/', '^shared/']);
});

t.test('an invalid RE2 policy pattern is a config error naming the verb', async (t) => {
  // Act and assess
  t.match(configError({ SECRETS_BROKER_POLICY_DELETE: 'app/(?!keep)' }), /^policy\.delete pattern 'app\/\(\?!keep\)'/);
});

t.test('an unknown SECRETS_BROKER_ variable is only a warning, with a did-you-mean', async (t) => {
  // Act
  const { config, warnings } = load({ SECRETS_BROKER_LOG_LEVLE: 'debug', SECRETS_BROKER_QWXZ_PLUGH_XYZZY: '1' });

  // Assess
  t.equal(config.log.level, 'info', 'the misspelt variable had no effect');
  t.equal(warnings.length, 2);
  t.match(warnings[0], /SECRETS_BROKER_LOG_LEVLE.*did you mean SECRETS_BROKER_LOG_LEVEL\?/);
  t.match(warnings[1], 'SECRETS_BROKER_QWXZ_PLUGH_XYZZY');
  t.notMatch(warnings[1], /did you mean/, 'no suggestion when nothing is close');
});

t.test('Kubernetes service-link variables are ignored without a warning', async (t) => {
  // Prepare: what a Service named secrets-broker with ports 80 and a named port injects.
  const env = {
    SECRETS_BROKER_SERVICE_HOST: '10.0.0.1',
    SECRETS_BROKER_SERVICE_PORT: '80',
    SECRETS_BROKER_SERVICE_PORT_HTTP: '80',
    SECRETS_BROKER_PORT: 'tcp://10.0.0.1:80',
    SECRETS_BROKER_PORT_80_TCP: 'tcp://10.0.0.1:80',
    SECRETS_BROKER_PORT_80_TCP_ADDR: '10.0.0.1',
    SECRETS_BROKER_PORT_80_TCP_PROTO: 'tcp',
    SECRETS_BROKER_PORT_80_TCP_PORT: '80',
    SECRETS_BROKER_PORT_9102_UDP_ADDR: '10.0.0.1',
  };

  // Act
  const { config, warnings } = load(env);

  // Assess
  t.same(warnings, []);
  t.equal(config.listen.port, 2774);
});

t.test('no config env name has the shape of a service-link variable', async (t) => {
  // Prepare: Kubernetes' shapes for a Service named secrets-broker, written independently of the loader.
  const serviceLink = /^SECRETS_BROKER_(SERVICE_HOST|SERVICE_PORT|PORT)(_|$)/;
  const envNames = configLeaves().map((l) => l.env);

  // Act and assess
  for (const name of envNames) t.notMatch(name, serviceLink, name);
  t.equal(new Set(envNames).size, envNames.length, 'env names are unique');
  for (const name of envNames) t.match(name, /^SECRETS_BROKER_[A-Z0-9_]+$/, name);
});

t.test('the env names docs/configuration.md fixes map to the documented keys', async (t) => {
  // Prepare
  const fixed: Record<string, string> = {
    SECRETS_BROKER_BACKEND: 'backend',
    SECRETS_BROKER_SOCKET: 'socket.path',
    SECRETS_BROKER_SOCKET_MODE: 'socket.mode',
    SECRETS_BROKER_TOKEN_FILE: 'auth.tokenFile',
    SECRETS_BROKER_LISTEN_HOST: 'listen.host',
    SECRETS_BROKER_LISTEN_PORT: 'listen.port',
    SECRETS_BROKER_HEALTH_LISTEN_PORT: 'health.port',
    SECRETS_BROKER_LOCK_DIR: 'lock.dir',
    SECRETS_BROKER_FILE_DIR: 'file.dir',
    SECRETS_BROKER_LOG_LEVEL: 'log.level',
    SECRETS_BROKER_CACHE_TTL_MS: 'cache.ttlMs',
    SECRETS_BROKER_AWS_REGION: 'aws.region',
    SECRETS_BROKER_AWS_ENDPOINT: 'aws.endpoint',
    SECRETS_BROKER_VAULT_ADDR: 'vault.addr',
    SECRETS_BROKER_VAULT_MOUNT: 'vault.mount',
    SECRETS_BROKER_VAULT_AUTH: 'vault.auth',
    SECRETS_BROKER_VAULT_ROLE: 'vault.role',
    SECRETS_BROKER_VAULT_AUTH_MOUNT: 'vault.authMount',
    SECRETS_BROKER_VAULT_JWT_FILE: 'vault.jwtFile',
    SECRETS_BROKER_VAULT_TOKEN_FILE: 'vault.tokenFile',
  };
  const byEnv = new Map(configLeaves().map((l) => [l.env, l.key]));

  // Act and assess
  for (const [env, key] of Object.entries(fixed)) t.equal(byEnv.get(env), key, env);
});

t.test('the API listens on loopback only', async (t) => {
  // Act and assess
  t.equal(load({ SECRETS_BROKER_LISTEN_HOST: '::1' }).config.listen.host, '::1');
  for (const host of ['0.0.0.0', '10.0.0.5', 'localhost', '::']) {
    const message = configError({ SECRETS_BROKER_LISTEN_HOST: host });
    t.match(message, 'listen.host (SECRETS_BROKER_LISTEN_HOST)', host);
    t.match(message, '127.0.0.1 or ::1', host);
  }
});

t.test('the aws backend needs a region, taken from AWS_REGION when not set directly', async (t) => {
  // Act and assess
  t.match(configError({ SECRETS_BROKER_BACKEND: 'aws' }), /^aws\.region \(SECRETS_BROKER_AWS_REGION/);
  t.equal(load({ SECRETS_BROKER_BACKEND: 'aws', AWS_REGION: 'eu-west-1' }).config.aws.region, 'eu-west-1');
  t.equal(load({ SECRETS_BROKER_BACKEND: 'aws', AWS_DEFAULT_REGION: 'eu-north-1' }).config.aws.region, 'eu-north-1');
  const both = load({ SECRETS_BROKER_BACKEND: 'aws', SECRETS_BROKER_AWS_REGION: 'us-east-2', AWS_REGION: 'eu-west-1' });
  t.equal(both.config.aws.region, 'us-east-2', 'the broker’s own variable wins');
  t.equal(load({ SECRETS_BROKER_BACKEND: 'file' }).config.aws.region, undefined, 'not needed for other backends');
});

t.test('the vault backend needs an address, a role for kubernetes and jwt, and a token for token auth', async (t) => {
  // Prepare
  const vault = { SECRETS_BROKER_BACKEND: 'vault' };
  const addr = { ...vault, VAULT_ADDR: 'http://127.0.0.1:8200' };

  // Act and assess
  t.match(configError(vault), /^vault\.addr \(SECRETS_BROKER_VAULT_ADDR/);
  t.equal(load({ ...addr, SECRETS_BROKER_VAULT_ROLE: 'app' }).config.vault.addr, 'http://127.0.0.1:8200');
  t.match(configError(addr), /vault\.role .* 'kubernetes'/);
  t.match(configError({ ...addr, SECRETS_BROKER_VAULT_AUTH: 'jwt' }), /vault\.role .* 'jwt'/);
  t.match(configError({ ...addr, SECRETS_BROKER_VAULT_AUTH: 'token' }), /SECRETS_BROKER_VAULT_TOKEN_FILE.*VAULT_TOKEN/);

  const withToken = load({ ...addr, SECRETS_BROKER_VAULT_AUTH: 'token', VAULT_TOKEN: 'hvs.test' }).config;
  t.equal(withToken.vault.token, 'hvs.test');

  const withFile = load({
    ...addr,
    SECRETS_BROKER_VAULT_AUTH: 'token',
    SECRETS_BROKER_VAULT_TOKEN_FILE: 'vault-token',
    VAULT_TOKEN: 'hvs.ignored',
  }).config;
  t.equal(withFile.vault.tokenFile, '/srv/app/vault-token');
  t.equal(withFile.vault.token, undefined, 'a token file takes precedence over VAULT_TOKEN');
});

t.test('retry.maxDelayMs below retry.baseDelayMs is refused', async (t) => {
  // Act and assess
  t.match(
    configError({ SECRETS_BROKER_RETRY_BASE_DELAY_MS: '500', SECRETS_BROKER_RETRY_MAX_DELAY_MS: '100' }),
    'retry.maxDelayMs (SECRETS_BROKER_RETRY_MAX_DELAY_MS)',
  );
});

t.test('the loaded config is deeply frozen', async (t) => {
  // Prepare
  const { config } = load({ SECRETS_BROKER_POLICY_READ: '^app/' });

  // Act and assess
  t.ok(Object.isFrozen(config));
  for (const section of Object.values(config)) if (typeof section === 'object') t.ok(Object.isFrozen(section));
  t.ok(Object.isFrozen(config.policy.read));
  t.throws(() => {
    (config.listen as { port: number }).port = 1;
  }, TypeError);
  t.throws(() => (config.policy.read as string[]).push('x'), TypeError);
});

t.test('serve --help lists every key with its env name, fallbacks and default', async (t) => {
  // Act
  const help = serveHelp();

  // Assess
  for (const l of configLeaves()) {
    t.match(help, `  ${l.key}\n      env: ${l.env}`, l.key);
    for (const fallback of l.fallbackEnv) t.match(help, fallback, `${l.key} fallback ${fallback}`);
  }
  t.match(help, 'env: SECRETS_BROKER_AWS_REGION (or AWS_REGION, AWS_DEFAULT_REGION)');
  t.match(help, '`token` beside the socket');
  t.match(help, 'SECRETS_BROKER_CONFIG');
});

/** Runs the CLI from source in a child process with only the given SECRETS_BROKER_* settings. */
function runCli(args: string[], env: Record<string, string> = {}) {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SECRETS_BROKER_')));
  const loader = path.join(REPO, 'node_modules/@tapjs/typescript/dist/esm/import.mjs');
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', loader, path.join(REPO, 'agent/main.ts'), ...args],
      {
        cwd: REPO,
        timeout: 60_000,
        env: { ...inherited, ...env, TS_NODE_TRANSPILE_ONLY: '1', TS_NODE_PROJECT: path.join(REPO, 'tsconfig.json') },
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err.code as number | undefined) ?? null) : 0, stdout, stderr }),
    );
  });
}

t.test(
  'the CLI exits 2 with the message on stderr for an invalid value or usage, 0 for help and version',
  async (t) => {
    // Act: in parallel, since each child compiles the sources.
    const [badValue, badFile, unknownCommand, extraArgument, help, serveHelpRun, version] = await Promise.all([
      runCli(['serve'], { SECRETS_BROKER_LISTEN_PORT: 'eighty' }),
      runCli(['serve'], { SECRETS_BROKER_CONFIG: '/nonexistent/secrets-broker.yaml' }),
      runCli(['frobnicate']),
      runCli(['serve', '--port=1']),
      runCli(['--help']),
      runCli(['serve', '--help']),
      runCli(['version']),
    ]);

    // Assess
    t.equal(badValue.code, 2, 'invalid value: exit 2');
    t.match(badValue.stderr, "listen.port (SECRETS_BROKER_LISTEN_PORT) is 'eighty'");
    t.notMatch(badValue.stderr, /\n\s+at /, 'a message, not a stack trace');
    t.equal(badFile.code, 2, 'unreadable config file: exit 2');
    t.match(badFile.stderr, '/nonexistent/secrets-broker.yaml');
    t.equal(unknownCommand.code, 2);
    t.equal(unknownCommand.stderr, "secrets-broker: unknown command 'frobnicate'; see 'secrets-broker --help'\n");
    t.equal(extraArgument.code, 2);
    t.match(extraArgument.stderr, "unexpected argument '--port=1'");
    t.equal(help.code, 0);
    t.equal(help.stdout, USAGE);
    t.equal(serveHelpRun.code, 0);
    t.equal(serveHelpRun.stdout, serveHelp());
    t.equal(version.code, 0);
    t.equal(version.stdout, `${JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')).version}\n`);
  },
);
