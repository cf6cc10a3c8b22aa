/**
 * The shipped client: `secrets-broker/client` resolves through the package's exports to the
 * built module and its declarations, and that module needs nothing beyond Node.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { MAIN, ROOT } from '../helpers/broker-process.js';

const CLIENT_DIR = path.join(ROOT, 'dist/agent/client');

t.before(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does it first)`);
});

t.test("'secrets-broker/client' resolves to the built client and its type declarations", async (t) => {
  // Prepare
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

  // Act
  const resolved = fileURLToPath(import.meta.resolve('secrets-broker/client'));
  const client = await import('secrets-broker/client');
  const types = path.join(ROOT, pkg.exports['./client'].types);

  // Assess
  t.equal(resolved, path.join(CLIENT_DIR, 'index.js'));
  t.equal(typeof client.SecretsBrokerClient, 'function');
  t.equal(new client.SecretsBrokerError('not_found', 404, 'gone').name, 'SecretsBrokerError');
  t.ok(existsSync(types), `${types} is built`);
  t.match(readFileSync(types, 'utf8'), /SecretsBrokerClient/);
  t.equal(pkg.bin['secrets-broker'], 'dist/agent/main.js', 'the command is unchanged');
});

t.test('the built client imports nothing but Node and its own modules', async (t) => {
  // Prepare
  const files = readdirSync(CLIENT_DIR).filter((name) => name.endsWith('.js'));

  // Act
  const outside = files.flatMap((name) => {
    const code = readFileSync(path.join(CLIENT_DIR, name), 'utf8');
    const specifiers = [...code.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/g)].map((m) => m[1]);
    const dynamic = [...code.matchAll(/\bimport\(\s*'([^']+)'/g)].map((m) => m[1]);
    return [...specifiers, ...dynamic].filter((s) => !s?.startsWith('node:') && !/^\.\/[\w-]+\.js$/.test(s ?? ''));
  });

  // Assess
  t.ok(files.includes('secrets-broker-client.js'), 'the client is built');
  t.same(outside, [], 'no package and no module outside agent/client');
});
