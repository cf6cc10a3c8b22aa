/**
 * The bundle the image runs (scripts/bundle.mjs): built into a temp folder, started as the image
 * starts it, and used for a write and a read.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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
  // Records each module the bundle requires (Node's built-ins among them), in order, as it happens.
  const loadedFile = path.join(dir, 'loaded.txt');
  const recorder = path.join(dir, 'record-loads.cjs');
  await writeFile(
    recorder,
    `const Module = require('node:module'); const fs = require('node:fs'); const load = Module._load; const seen = new Set();
Module._load = function (request, ...rest) {
  if (!seen.has(request)) { seen.add(request); fs.appendFileSync(${JSON.stringify(loadedFile)}, request + '\\n'); }
  return load.call(this, request, ...rest);
};`,
  );
  const broker = startBrokerProcess(
    {
      SECRETS_BROKER_SOCKET: socketPath,
      SECRETS_BROKER_LISTEN_PORT: '0',
      SECRETS_BROKER_FILE_DIR: path.join(dir, 'store'),
      NODE_OPTIONS: `--require ${recorder}`,
    },
    dir,
    ['serve'],
    path.join(outdir, 'main.js'),
  );
  t.teardown(() => broker.child.kill('SIGKILL'));
  await waitForOutput(broker, (text) => text.includes('serving the file backend'));
  const loadedAtStart = (await readFile(loadedFile, 'utf8')).split('\n');
  const token = (await readFile(path.join(path.dirname(socketPath), 'token'), 'utf8')).trim();

  // Act
  const created = await request({ socketPath }, 'POST', '/secrets', { token, body: { id: 'app/db', value: 's3cr3t' } });
  const updated = await request({ socketPath }, 'PUT', '/secrets/app/db', {
    token,
    body: { value: 'n3w' },
    headers: { 'if-match': created.headers.etag as string },
  });
  const read = await request({ socketPath }, 'GET', '/secrets/app/db', { token });

  // Assess
  t.equal(created.status, 201);
  t.equal(updated.status, 200, 'a locked write through the lock library the bundle loads on first use');
  t.equal(read.status, 200);
  t.equal(read.json().value, 'n3w');
  t.equal(read.headers['x-cache'], 'hit');
  // scripts/bundle.mjs defers what serve does not use (LAZY_MODULES): Fastify's HTTPS and HTTP/2 servers.
  t.ok(loadedAtStart.includes('node:http'), 'the recorder saw the start-up');
  t.notOk(loadedAtStart.includes('node:https'), 'no HTTPS server module at start');
  t.notOk(loadedAtStart.includes('node:http2'), 'no HTTP/2 module at start');
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
