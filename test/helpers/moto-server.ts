/**
 * Starts and stops a real moto_server (an independent AWS emulator, from the test virtualenv) on a
 * loopback port, for tests that drive the AWS SDK over real HTTP.
 *
 * moto is told to bind port 0 and the port it got is read from its banner: picking a free port first
 * and handing it over would leave a window in which another process could take it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Test } from 'tap';

const MOTO_BIN = join(import.meta.dirname, '..', '..', '.venv', 'bin', 'moto_server');
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const BANNER = /Running on http:\/\/127\.0\.0\.1:(\d+)/;

/** Dummy credentials: moto accepts any, and real ones must never reach a test. */
export const MOTO_CREDENTIALS = { accessKeyId: 'AKIAMOTOTESTKEY00000', secretAccessKey: 'moto-test-secret' };
export const MOTO_REGION = 'us-east-1';

export interface MotoServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  /** moto's recent output (request lines, tracebacks): worth printing when a test fails. */
  recentOutput(): string;
  /** Forgets every resource (moto's own reset API), so tests sharing a server start clean. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts moto for a test and stops it at the test's teardown. When moto is not installed it fails
 * the test in CI (`CI=true`), and elsewhere skips it, saying how to install moto.
 */
export async function motoForTest(t: Test): Promise<MotoServer | undefined> {
  if (!existsSync(MOTO_BIN)) {
    const reason = `moto_server not found at ${MOTO_BIN}: run \`bash scripts/python-venv.sh\``;
    if (process.env.CI === 'true') throw new Error(`${reason} (moto is required in CI)`);
    t.comment(`SKIPPING AWS TESTS: ${reason}`);
    // A plan of zero tests with a reason is tap's way of skipping a whole file, visibly.
    t.plan(0, reason);
    return undefined;
  }
  const moto = await startMotoServer();
  t.teardown(async () => {
    // moto's tracebacks explain its 500s; show them when something failed.
    if (!t.passing()) process.stderr.write(`moto's recent output:\n${tracebacksOf(moto.recentOutput())}\n`);
    await moto.stop();
  });
  return moto;
}

export async function startMotoServer(): Promise<MotoServer> {
  const child = spawn(MOTO_BIN, ['-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const port = await waitForBanner(child, output);
  const recent = keepRecentOutput(child);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    recentOutput: () => recent.join(''),
    reset: async () => {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`moto reset answered ${response.status}`);
    },
    stop: () => stopChild(child),
  };
}

/** A client for moto that, like the broker's own, never retries by itself. */
export function motoClient(endpoint: string, requestTimeoutMs = 10_000): SecretsManagerClient {
  return new SecretsManagerClient({
    region: MOTO_REGION,
    endpoint,
    credentials: MOTO_CREDENTIALS,
    maxAttempts: 1,
    requestHandler: { requestTimeout: requestTimeoutMs, throwOnRequestTimeout: true },
  });
}

function waitForBanner(child: ChildProcess, output: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => fail(new Error('moto_server did not start in time')), START_TIMEOUT_MS);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}; its output:\n${output.join('')}`));
    };
    const onData = (chunk: Buffer) => {
      if (settled) return;
      output.push(chunk.toString());
      const match = BANNER.exec(output.join(''));
      if (match) {
        settled = true;
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`moto_server exited with code ${code}`)));
  });
}

/** moto's output without its one-line-per-request access log. */
function tracebacksOf(output: string): string {
  return output
    .split('\n')
    .filter((line) => !/"(POST|GET) \S+ HTTP/.test(line))
    .join('\n');
}

/** Drains moto's output for as long as it runs (a full pipe would stall it), keeping the tail. */
function keepRecentOutput(child: ChildProcess): string[] {
  const recent: string[] = [];
  const keep = (chunk: Buffer) => {
    recent.push(chunk.toString());
    if (recent.length > 200) recent.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return recent;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
