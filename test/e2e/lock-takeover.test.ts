/**
 * After a crash, the first write does not wait for the dead process's lock to go stale: a process
 * holding a secret's lock is SIGKILLed, and a broker process sharing the lock directory (with
 * `lock.waitMs` 0, so a single attempt) writes that secret at once.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { MAIN, ROOT, startBrokerProcess, waitForOutput } from '../helpers/broker-process.js';
import { request } from '../helpers/http-client.js';

const LOCKS_MODULE = path.join(ROOT, 'dist/agent/broker/secret-locks.js');

const linuxOnly = process.platform === 'linux' ? false : 'holder records identify processes through /proc';

/** Whether this machine lets a test start a process in a new pid namespace (root, as in CI). */
function canUnshare(): boolean {
  try {
    execFileSync('unshare', ['--pid', '--fork', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const unshareSkip = canUnshare() || process.env.CI === 'true' ? false : 'starting a new pid namespace needs root';

t.before(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does it first)`);
});

/** A broker that never waits for a lock (one attempt) and would wait ten minutes for staleness. */
async function startBroker(t: Test) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-takeover-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'run', 'broker.sock');
  const lockDir = path.join(dir, 'locks');
  const broker = startBrokerProcess(
    {
      SECRETS_BROKER_SOCKET: socketPath,
      SECRETS_BROKER_LISTEN_PORT: '0',
      SECRETS_BROKER_FILE_DIR: path.join(dir, 'store'),
      SECRETS_BROKER_LOCK_DIR: lockDir,
      SECRETS_BROKER_LOCK_WAIT_MS: '0',
      SECRETS_BROKER_LOCK_STALE_MS: '600000',
    },
    dir,
  );
  t.teardown(() => broker.child.kill('SIGKILL'));
  await waitForOutput(broker, (text) => text.includes('serving the file backend'));
  const token = (await readFile(path.join(dir, 'run', 'token'), 'utf8')).trim();
  const created = await request({ socketPath }, 'POST', '/secrets', {
    token,
    body: { id: 'prod/counter', value: '0' },
  });
  t.equal(created.status, 201);
  const put = (value: string) => request({ socketPath }, 'PUT', '/secrets/prod/counter', { token, body: { value } });
  return { lockDir, put };
}

/** The command of a writer process that takes the secret's lock, says so, and keeps it. */
function holderCommand(lockDir: string): string[] {
  const script = `
    const { FileSecretLocks } = await import(${JSON.stringify(LOCKS_MODULE)});
    const locks = new FileSecretLocks({ dir: ${JSON.stringify(lockDir)}, waitMs: 0, staleMs: 600000 });
    await locks.acquire('prod/counter');
    process.stdout.write('held\\n');
    setInterval(() => {}, 60000);`;
  return [process.execPath, '--input-type=module', '-e', script];
}

async function startHolder(t: Test, command: string[]): Promise<ChildProcess> {
  const holder = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void holder.kill('SIGKILL'));
  await once(holder.stdout as NodeJS.ReadableStream, 'data');
  return holder;
}

/** The liveness socket named in the record of the lock held in `lockDir`. */
async function holderSocket(lockDir: string): Promise<string> {
  const [lock] = (await readdir(lockDir)).filter((name) => name.endsWith('.lock'));
  const lockPath = path.join(lockDir, lock as string);
  const [record] = await readdir(lockPath);
  return JSON.parse(await readFile(path.join(lockPath, record as string), 'utf8')).socket;
}

function refusesConnections(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ path: socketPath });
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', () => resolve(true));
  });
}

/** Kills the holder and waits until its process is gone: its liveness socket no longer accepts. */
async function kill(holder: ChildProcess, lockDir: string): Promise<void> {
  const socket = await holderSocket(lockDir);
  const exited = once(holder, 'exit');
  holder.kill('SIGKILL');
  await exited;
  // A child in its own namespace dies just after unshare itself: wait for that, a precondition.
  while (!(await refusesConnections(socket))) await new Promise((resolve) => setTimeout(resolve, 20));
}

t.test('a write after its lock holder was SIGKILLed succeeds on the first attempt', { skip: linuxOnly }, async (t) => {
  // Prepare: a writer takes the lock and is killed while holding it.
  const { lockDir, put } = await startBroker(t);
  const holder = await startHolder(t, holderCommand(lockDir));
  const whileHeld = await put('1');
  await kill(holder, lockDir);

  // Act
  const afterCrash = await put('1');

  // Assess
  t.equal(whileHeld.status, 423, 'a live holder is respected');
  t.equal(afterCrash.status, 200, 'the dead holder’s lock was taken over at once');
  t.equal(afterCrash.json().version, '2');
});

t.test(
  'a lock held from another pid namespace (a restarted container of the pod) is taken over once its holder is killed',
  { skip: linuxOnly || unshareSkip },
  async (t) => {
    // Prepare: the writer runs in a pid namespace of its own, as a container does; unshare kills
    // it when unshare itself is killed.
    const { lockDir, put } = await startBroker(t);
    const unshare = ['unshare', '--pid', '--fork', '--kill-child=SIGKILL'];
    const holder = await startHolder(t, [...unshare, ...holderCommand(lockDir)]);
    const whileHeld = await put('1');
    await kill(holder, lockDir);

    // Act
    const afterCrash = await put('1');

    // Assess
    t.equal(whileHeld.status, 423, 'a live holder in another namespace is respected');
    t.equal(afterCrash.status, 200, 'its lock was taken over at once after it died');
  },
);
