import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstat, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import t, { type Test } from 'tap';
import {
  closeGracefully,
  ListenerError,
  listenOnSocket,
  listenOnTcp,
  prepareSocketPath,
  removeSocketFile,
} from '../../agent/http/listeners.js';

/** Socket paths must stay under ~107 bytes, so the temp dir is short. */
async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-l-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Leaves a socket file nobody listens on, as a broker killed with SIGKILL does: a child process
 * binds it and is killed before it can unlink it. (A closed net.Server in this process would
 * unlink its socket file itself.)
 */
async function leaveStaleSocket(t: Test, socketPath: string): Promise<void> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => process.stdout.write('ready\\n'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await once(child.stdout as NodeJS.ReadableStream, 'data');
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

async function listenOnPath(t: Test, socketPath: string): Promise<net.Server> {
  const server = net.createServer((c) => c.end());
  server.listen(socketPath);
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return server;
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

t.test('prepareSocketPath creates a missing directory and accepts a free path', async (t) => {
  // Prepare
  const socketPath = path.join(await tempDir(t), 'run', 'sb', 'broker.sock');

  // Act
  await prepareSocketPath(socketPath);

  // Assess
  t.ok((await stat(path.dirname(socketPath))).isDirectory());
  t.equal(await exists(socketPath), false);
});

t.test('prepareSocketPath removes a stale socket left by a dead process', async (t) => {
  // Prepare
  const socketPath = path.join(await tempDir(t), 'broker.sock');
  await leaveStaleSocket(t, socketPath);
  t.ok((await lstat(socketPath)).isSocket(), 'the dead process left its socket file behind');

  // Act
  await prepareSocketPath(socketPath);

  // Assess
  t.equal(await exists(socketPath), false);
});

t.test('prepareSocketPath refuses a socket a live server listens on, and leaves it alone', async (t) => {
  // Prepare
  const socketPath = path.join(await tempDir(t), 'broker.sock');
  await listenOnPath(t, socketPath);

  // Act
  const err = await prepareSocketPath(socketPath).then(
    () => undefined,
    (e: unknown) => e,
  );

  // Assess
  t.ok(err instanceof ListenerError);
  t.match((err as Error).message, /already serving/);
  t.ok((await lstat(socketPath)).isSocket(), 'the live socket is still there');
});

t.test('prepareSocketPath refuses to replace a regular file', async (t) => {
  // Prepare
  const socketPath = path.join(await tempDir(t), 'broker.sock');
  await writeFile(socketPath, 'not a socket');

  // Act
  const err = await prepareSocketPath(socketPath).then(
    () => undefined,
    (e: unknown) => e,
  );

  // Assess
  t.ok(err instanceof ListenerError);
  t.match((err as Error).message, /not a socket/);
  t.equal(await readFile(socketPath, 'utf8'), 'not a socket');
});

t.test('prepareSocketPath refuses a symbolic link at the socket path, dangling or to a live socket', async (t) => {
  // Prepare
  const dir = await tempDir(t);
  const live = path.join(dir, 'live.sock');
  await listenOnPath(t, live);
  const toLive = path.join(dir, 'to-live.sock');
  const dangling = path.join(dir, 'dangling.sock');
  await symlink(live, toLive);
  await symlink(path.join(dir, 'nowhere.sock'), dangling);

  for (const socketPath of [toLive, dangling]) {
    // Act
    const failure = await prepareSocketPath(socketPath).then(
      () => undefined,
      (err: Error) => err,
    );

    // Assess
    t.type(failure, ListenerError);
    t.equal(failure?.message, `socket path ${socketPath} is a symbolic link; the broker never follows one: remove it`);
    t.ok(await readlink(socketPath), 'the link is left in place');
  }
  t.ok((await lstat(live)).isSocket(), 'the live socket behind the link is untouched');
});

t.test('listenOnSocket serves on a stale socket path with the configured mode', async (t) => {
  // Prepare
  const socketPath = path.join(await tempDir(t), 'broker.sock');
  await leaveStaleSocket(t, socketPath);
  const app = Fastify();
  app.get('/healthz', async () => ({ ok: true }));
  t.teardown(() => app.close());

  // Act
  await listenOnSocket(app, socketPath, '0600');

  // Assess
  t.equal((await lstat(socketPath)).mode & 0o777, 0o600);
  const body = await new Promise<string>((resolve, reject) => {
    const socket = net.connect({ path: socketPath }, () => {
      socket.end('GET /healthz HTTP/1.1\r\nHost: broker\r\nConnection: close\r\n\r\n');
    });
    let text = '';
    socket.on('data', (chunk) => {
      text += String(chunk);
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  t.match(body, /^HTTP\/1\.1 200/);
});

t.test('listenOnTcp returns the bound loopback address with the port picked', async (t) => {
  // Prepare
  const app = Fastify();
  t.teardown(() => app.close());

  // Act
  const address = await listenOnTcp(app, '127.0.0.1', 0);

  // Assess
  t.match(address, /^127\.0\.0\.1:\d+$/);
  t.not(address, '127.0.0.1:0');
});

/** IPv6 loopback may be off on a CI host; that is the only reason to skip the IPv6 case. */
async function ipv6LoopbackWorks(): Promise<boolean> {
  const probe = net.createServer();
  return new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}

const ipv6Skip = (await ipv6LoopbackWorks()) ? false : '::1 is not available on this host';

t.test('listenOnTcp brackets an IPv6 address', { skip: ipv6Skip }, async (t) => {
  // Prepare
  const app = Fastify();
  t.teardown(() => app.close());

  // Act
  const address = await listenOnTcp(app, '::1', 0);

  // Assess
  t.match(address, /^\[::1\]:\d+$/);
});

t.test('closeGracefully ends even when a request never finishes', async (t) => {
  // Prepare: a handler that never answers, and a client waiting on it.
  const app = Fastify();
  let entered: () => void = () => undefined;
  const handlerEntered = new Promise<void>((resolve) => {
    entered = resolve;
  });
  app.get('/hang', () => {
    entered();
    return new Promise(() => undefined);
  });
  const address = await listenOnTcp(app, '127.0.0.1', 0);
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.split(':').at(-1))];
  const client = net.connect({ host, port }, () => client.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n'));
  client.on('error', () => undefined);
  const clientClosed = once(client, 'close');
  t.teardown(() => client.destroy());
  await handlerEntered;

  // Act
  await closeGracefully(app, 50);

  // Assess
  await clientClosed;
  t.pass('the server closed and the hanging connection was cut');
});

t.test('removeSocketFile removes the file and ignores one already gone', async (t) => {
  // Prepare
  const socketPath = path.join(await tempDir(t), 'broker.sock');
  await leaveStaleSocket(t, socketPath);

  // Act
  await removeSocketFile(socketPath);
  await removeSocketFile(socketPath);

  // Assess
  t.equal(await exists(socketPath), false);
});
