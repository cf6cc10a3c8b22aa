/**
 * The bundle the image runs (scripts/bundle.mjs): built into a temp folder, started as the image
 * starts it, and used for a write and a read.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ROOT, startBrokerProcess, waitForOutput } from '../helpers/broker-process.js';
import { request } from '../helpers/http-client.js';

t.test('the bundled broker serves a write and a cached read on the file backend', async (t) => {
  // Prepare
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-bundle-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const outdir = path.join(dir, 'bundle');
  execFileSync(process.execPath, ['scripts/bundle.mjs', `--outdir=${outdir}`], { cwd: ROOT, stdio: 'pipe' });
  const socketPath = path.join(dir, 'b.sock');
  const broker = startBrokerProcess(
    {
      SECRETS_BROKER_SOCKET: socketPath,
      SECRETS_BROKER_LISTEN_PORT: '0',
      SECRETS_BROKER_FILE_DIR: path.join(dir, 'store'),
    },
    dir,
    ['serve'],
    path.join(outdir, 'main.js'),
  );
  t.teardown(() => broker.child.kill('SIGKILL'));
  await waitForOutput(broker, (text) => text.includes('serving the file backend'));
  const token = (await readFile(path.join(path.dirname(socketPath), 'token'), 'utf8')).trim();

  // Act
  const created = await request({ socketPath }, 'POST', '/secrets', { token, body: { id: 'app/db', value: 's3cr3t' } });
  const read = await request({ socketPath }, 'GET', '/secrets/app/db', { token });

  // Assess
  t.equal(created.status, 201);
  t.equal(read.status, 200);
  t.equal(read.json().value, 's3cr3t');
  t.equal(read.headers['x-cache'], 'hit');
});

t.test('bundled code reaches Node built-ins through require, not as ES modules', async (t) => {
  // An ES import of a built-in makes Node evaluate every lazy export of it (fs streams, http's fetch
  // client): start-up time and memory for nothing. scripts/bundle.mjs turns them into require calls.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-bundle-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  execFileSync(process.execPath, ['scripts/bundle.mjs', `--outdir=${dir}`], { cwd: ROOT, stdio: 'pipe' });
  const files = [
    path.join(dir, 'main.js'),
    ...(await readdir(path.join(dir, 'chunks'))).map((f) => path.join(dir, 'chunks', f)),
  ];
  const esImports: string[] = [];
  for (const file of files.filter((f) => f.endsWith('.js'))) {
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*"(node:[^"]+)"/g)) {
      if (match[1] !== 'node:module') esImports.push(`${path.basename(file)}: ${match[1]}`);
    }
  }
  t.same(esImports, [], 'only node:module, which the banner needs to make require');
});
