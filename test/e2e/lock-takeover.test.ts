/**
 * After a crash, the first write does not wait for the dead process's lock to go stale: a process
 * holding a secret's lock is SIGKILLed, and a broker process sharing the lock directory (with
 * `lock.waitMs` 0, so a single attempt) writes that secret at once.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { MAIN, ROOT, startBrokerProcess, waitForOutput } from '../helpers/broker-process.js';
import { request } from '../helpers/http-client.js';

const LOCKS_MODULE = path.join(ROOT, 'dist/agent/broker/secret-locks.js');

t.before(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does it first)`);
});

t.test(
  'a write after its lock holder was SIGKILLed succeeds on the first attempt',
  { skip: process.platform !== 'linux' && 'needs /proc' },
  async (t) => {
    // Prepare: a broker that never waits for a lock and would wait an hour for staleness.
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
    const target = { socketPath };
    const created = await request(target, 'POST', '/secrets', { token, body: { id: 'prod/counter', value: '0' } });
    t.equal(created.status, 201);

    // A writer process takes the secret's lock and is killed while holding it.
    const script = `
    const { FileSecretLocks } = await import(${JSON.stringify(LOCKS_MODULE)});
    const locks = new FileSecretLocks({ dir: ${JSON.stringify(lockDir)}, waitMs: 0, staleMs: 600000 });
    await locks.acquire('prod/counter');
    process.stdout.write('held\\n');
    setInterval(() => {}, 60000);`;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.teardown(() => void holder.kill('SIGKILL'));
    await once(holder.stdout as NodeJS.ReadableStream, 'data');
    const whileHeld = await request(target, 'PUT', '/secrets/prod/counter', { token, body: { value: '1' } });
    const exited = once(holder, 'exit');
    holder.kill('SIGKILL');
    await exited;

    // Act
    const afterCrash = await request(target, 'PUT', '/secrets/prod/counter', { token, body: { value: '1' } });

    // Assess
    t.equal(whileHeld.status, 423, 'a live holder is respected');
    t.equal(afterCrash.status, 200, 'the dead holder’s lock was taken over at once');
    t.equal(afterCrash.json().version, '2');
  },
);
