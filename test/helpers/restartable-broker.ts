/**
 * A broker process that a test can SIGKILL and start again on the same socket, token file, lock
 * directory and backend settings, as a pod's restart would; and a temporary place to run it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { type BrokerProcess, MAIN, startBrokerProcess, waitForOutput } from './broker-process.js';
import type { Target } from './http-client.js';

export interface RestartableBroker {
  /** The broker's Unix socket: the same path across restarts. */
  readonly target: Target;
  /** The bearer token, read from the token file at the first start. */
  token(): string;
  /** Starts the process and resolves once it serves. */
  start(): Promise<void>;
  /** SIGKILLs the running process and waits until it is gone. */
  kill(): Promise<void>;
  /** Everything every run of the process wrote, for a failure's diagnosis. */
  output(): string;
}

export interface BrokerSite {
  /** Name of the broker inside its test directory: its socket and token file carry it. */
  name: string;
  /** The test's temporary directory. */
  dir: string;
  /** Lock directory: shared by every broker of one test, as an emptyDir or EFS volume would be. */
  lockDir: string;
  /** Backend settings (SECRETS_BROKER_BACKEND, the store, the endpoint...). */
  backendEnv: Record<string, string>;
  /** Extra settings for this test (lock timings, log level...). */
  extraEnv?: Record<string, string>;
}

/** A fresh temporary directory, removed at the test's end. */
export async function tempDirForTest(t: Test, prefix: string): Promise<string> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does it first)`);
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A broker that the test's teardown kills if it still runs. */
export function restartableBroker(t: Test, site: BrokerSite): RestartableBroker {
  const socketPath = path.join(site.dir, `${site.name}.sock`);
  const tokenFile = path.join(site.dir, `${site.name}.token`);
  const env = {
    SECRETS_BROKER_SOCKET: socketPath,
    SECRETS_BROKER_TOKEN_FILE: tokenFile,
    SECRETS_BROKER_LOCK_DIR: site.lockDir,
    SECRETS_BROKER_LISTEN_PORT: '0',
    ...site.backendEnv,
    ...site.extraEnv,
  };
  let current: BrokerProcess | undefined;
  let token = '';
  let earlierOutput = '';
  const kill = async () => {
    const proc = current;
    if (!proc) return;
    current = undefined;
    earlierOutput += proc.output();
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    await proc.exited;
  };
  t.teardown(kill);
  return {
    target: { socketPath },
    token: () => token,
    async start() {
      if (current) throw new Error(`broker ${site.name} is already running`);
      current = startBrokerProcess(env, site.dir);
      await waitForOutput(current, (text) => text.includes('serving the'), 30_000);
      token ||= (await readFile(tokenFile, 'utf8')).trim();
    },
    kill,
    output: () => earlierOutput + (current?.output() ?? ''),
  };
}

/** Settings of a broker on the embedded file store in `storeDir` (its key file beside it). */
export function fileStoreEnv(storeDir: string): Record<string, string> {
  return { SECRETS_BROKER_BACKEND: 'file', SECRETS_BROKER_FILE_DIR: storeDir };
}

/** Temp files (`.<name>.<random>.tmp`) a writer left in a store directory. */
export async function tempFilesIn(storeDir: string): Promise<string[]> {
  const names = existsSync(storeDir) ? await readdir(storeDir) : [];
  return names.filter((name) => name.endsWith('.tmp'));
}
