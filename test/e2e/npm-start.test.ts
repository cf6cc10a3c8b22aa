/**
 * `npm start` stops cleanly on SIGTERM sent to npm alone, as a supervisor or `kill` sends it. npm
 * passes the signal to its child only: the `start` script must `exec` its way to node, or the shell
 * in between dies of the signal and leaves the broker running, orphaned, with its socket in place.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { MAIN, ROOT } from '../helpers/broker-process.js';

t.before(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does it first)`);
});

t.test('SIGTERM to the npm start process shuts the broker down: exit 0 and the socket removed', async (t) => {
  // Prepare: the start script itself; --ignore-scripts skips only the prestart build (done already)
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-npm-start-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'broker.sock');
  const npm = spawn('npm', ['start', '--ignore-scripts', '--silent'], {
    cwd: ROOT,
    env: {
      ...process.env,
      SECRETS_BROKER_SOCKET: socket,
      SECRETS_BROKER_LISTEN_PORT: '0',
      SECRETS_BROKER_FILE_DIR: path.join(dir, 'store'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that a broker orphaned by a failure can still be stopped afterwards.
    detached: true,
  });
  const killGroup = () => {
    try {
      process.kill(-(npm.pid as number), 'SIGKILL');
    } catch {
      // The group has already ended.
    }
  };
  let output = '';
  const serving = new Promise<void>((resolve, reject) => {
    npm.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('serving the file backend')) resolve();
    });
    npm.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    npm.once('exit', () => reject(new Error(`npm start ended before the broker served:\n${output}`)));
  });
  const npmExit = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    npm.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // The broker shares npm's stdout: the pipe closes once the last of them has exited.
  const brokerGone = new Promise<void>((resolve) => npm.stdout.once('close', () => resolve()));
  const guard = setTimeout(killGroup, 60_000);
  t.teardown(() => {
    clearTimeout(guard);
    killGroup();
  });
  await serving;

  // Act
  npm.kill('SIGTERM');
  const exit = await npmExit;
  // A broker left running after npm (the failure this guards against) would hold the pipe open.
  if (exit.code !== 0) killGroup();
  await brokerGone;

  // Assess
  t.same(exit, { code: 0, signal: null }, 'npm ends with the broker’s exit code, 0');
  t.match(output, /"msg":"shutdown complete"/, 'the broker drained and said so');
  t.equal(existsSync(socket), false, 'the socket is removed');
});
