/**
 * The `render` option: entries from the config file or SECRETS_BROKER_RENDER, resolved to absolute
 * paths with mode 0440 unless given, and refused with a message naming the option when malformed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../agent/config/loader.js';

t.test('SECRETS_BROKER_RENDER entries give id, path and mode, the mode 0440 unless given', async (t) => {
  // Act: an id holding '=' splits at the last '='; a relative path resolves against the working directory
  const { config, warnings } = loadConfig(
    { SECRETS_BROKER_RENDER: 'app/db=/run/secrets-files/db, tls=v2=certs/key:0400' },
    '/srv',
  );

  // Assess
  t.same(warnings, []);
  t.same(config.render, [
    { id: 'app/db', path: '/run/secrets-files/db', mode: 0o440 },
    { id: 'tls=v2', path: '/srv/certs/key', mode: 0o400 },
  ]);
});

t.test('render entries come from the config file too; none by default', async (t) => {
  // Prepare
  const dir = mkdtempSync(path.join(tmpdir(), 'render-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, 'render:\n  - {id: app/db, path: /run/secrets-files/db, mode: "0600"}\n');

  // Act
  const fromFile = loadConfig({ SECRETS_BROKER_CONFIG: file }, dir).config.render;
  const none = loadConfig({}, dir).config.render;

  // Assess
  t.same(fromFile, [{ id: 'app/db', path: '/run/secrets-files/db', mode: 0o600 }]);
  t.same(none, []);
});

t.test('malformed render entries are refused naming SECRETS_BROKER_RENDER', async (t) => {
  const cases: [string, RegExp][] = [
    ['no-path', /SECRETS_BROKER_RENDER entry 'no-path' must be id=path/],
    ['app/db=', /SECRETS_BROKER_RENDER entry 'app\/db=' must be id=path/],
    ['/abs=/x', /render \(SECRETS_BROKER_RENDER\) id '\/abs'/],
    ['a=/x/f,b=/x/f', /names \/x\/f twice/],
    ['a=/run/token', /path \/run\/token is the broker's own socket, token or lock directory/],
    ['a=/run/locks/x', /path \/run\/locks\/x is the broker's own/],
  ];
  for (const [value, message] of cases) {
    const env = { SECRETS_BROKER_RENDER: value, SECRETS_BROKER_SOCKET: '/run/broker.sock' };
    t.throws(() => loadConfig(env, '/'), { name: ConfigError.name, message }, value);
  }
});

t.test('a render mode that is not three octal digits is refused naming the option', async (t) => {
  // Prepare
  const dir = mkdtempSync(path.join(tmpdir(), 'render-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, 'render:\n  - {id: app/db, path: /x/db, mode: "0999"}\n');

  // Act / Assess
  t.throws(() => loadConfig({ SECRETS_BROKER_CONFIG: file }, dir), {
    name: ConfigError.name,
    message: /^render \(SECRETS_BROKER_RENDER\) is '0999'/,
  });
});
