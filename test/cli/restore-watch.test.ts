/**
 * `restore` and `watch` as processes, against a scripted server that answers as docs/api.md
 * documents, so each answer comes in a known order.
 */
import path from 'node:path';
import t from 'tap';
import { problem, startScriptedServer } from '../client/scripted-server.js';
import { runCli, startCli } from './run-cli.js';

const at = (version: string) => ({
  id: 'prod/db',
  value: `value ${version}`,
  version,
  encoding: 'utf8',
  locked: false,
});

t.test('restore prints the restored version, and exits 1 when the secret is live', async (t) => {
  // Prepare
  const server = await startScriptedServer(t, [
    { status: 200, headers: { etag: '"5"' }, body: { id: 'prod/db', version: '5', encoding: 'utf8' } },
    { status: 409, body: problem(409, 'already_exists', "secret 'prod/db' is not deleted") },
  ]);
  const options = { cwd: path.dirname(server.socketPath), env: { SECRETS_BROKER_SOCKET: server.socketPath } };

  // Act
  const restored = await runCli(['restore', 'prod/db'], options);
  const live = await runCli(['restore', 'prod/db'], options);

  // Assess
  t.same([restored.code, restored.stdout.toString()], [0, '5\n']);
  t.match(server.requests[0], { method: 'POST', url: '/secrets/prod/db:restore' });
  t.same([live.code, live.stderr], [1, "secrets-broker restore: secret 'prod/db' is not deleted (already_exists)\n"]);
});

t.test('watch prints a line per new version until interrupted, then exits 0', async (t) => {
  // Prepare
  const server = await startScriptedServer(t, [
    { status: 200, body: at('1') },
    { status: 200, headers: { 'preference-applied': 'wait' }, body: at('2') },
    { status: 304 },
    { status: 200, headers: { 'preference-applied': 'wait' }, body: at('3') },
    { status: 0, hold: true },
  ]);
  const watch = startCli(['watch', 'prod/db'], {
    cwd: path.dirname(server.socketPath),
    env: { SECRETS_BROKER_SOCKET: server.socketPath },
  });
  t.teardown(() => watch.child.kill('SIGKILL'));

  // Act
  while (server.requests.length < 5 && watch.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  watch.child.kill('SIGINT');
  const result = await watch.result;

  // Assess
  t.equal(result.code, 0, 'interrupting a watch is its normal end');
  t.equal(result.stdout.toString(), '2\n3\n', 'one line per new version');
  t.equal(result.stderr, '');
});
