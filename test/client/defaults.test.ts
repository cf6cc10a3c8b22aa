/**
 * The client finds the broker where the server put it: its copy of the default paths agrees with
 * the server's config loader, with and without the environment variables.
 */
import t from 'tap';
import { resolveLocation } from '../../agent/client/index.js';
import { loadConfig } from '../../agent/config/loader.js';

const cases: [string, Record<string, string>][] = [
  ['no environment', {}],
  ['a socket only', { SECRETS_BROKER_SOCKET: 'run/api.sock' }],
  ['a socket and a token file', { SECRETS_BROKER_SOCKET: '/run/sb/b.sock', SECRETS_BROKER_TOKEN_FILE: 'tok' }],
];

for (const [name, env] of cases) {
  t.test(`the client's socket and token file are the server's, with ${name}`, async (t) => {
    // Act
    const client = resolveLocation({}, env, '/work/app');
    const { config } = loadConfig(env, '/work/app');

    // Assess
    t.same(client, { socketPath: config.socket.path, tokenFile: config.auth.tokenFile });
  });
}

t.test('an explicit socket takes the token file beside it', async (t) => {
  // Act
  const location = resolveLocation({ socketPath: '/run/other/broker.sock' }, {}, '/work/app');

  // Assess
  t.same(location, { socketPath: '/run/other/broker.sock', tokenFile: '/run/other/token' });
});
