/**
 * moto_server (an AWS emulator from the project's Python venv, `bash scripts/python-venv.sh`) as a
 * child process on a loopback port it picks itself and prints in its banner.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** dist/bench/ -> <repo>/.venv/bin/moto_server */
export const MOTO_BIN = fileURLToPath(new URL('../../.venv/bin/moto_server', import.meta.url));
const BANNER = /Running on http:\/\/127\.0\.0\.1:(\d+)/;
const START_TIMEOUT_MS = 30_000;

export interface Moto {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  stop(): Promise<void>;
}

/** Why moto cannot run here, or undefined when it can. */
export function motoMissing(): string | undefined {
  return existsSync(MOTO_BIN)
    ? undefined
    : `moto_server not found at ${MOTO_BIN} (run \`bash scripts/python-venv.sh\`)`;
}

export async function startMoto(): Promise<Moto> {
  const child = spawn(MOTO_BIN, ['-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // A benchmark that throws half way must not leave moto behind.
  process.once('exit', () => child.kill('SIGKILL'));
  const port = await bannerPort(child);
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

function bannerPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    let found = false;
    const timer = setTimeout(() => fail(new Error('moto_server did not start in time')), START_TIMEOUT_MS);
    const fail = (err: Error) => {
      if (found) return;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}:\n${output.slice(-4000)}`));
    };
    // moto logs a line per request for as long as it runs: keep draining, or a full pipe stalls it.
    const onData = (chunk: Buffer) => {
      if (found) return;
      output += chunk.toString();
      const match = BANNER.exec(output);
      if (!match) return;
      found = true;
      clearTimeout(timer);
      resolve(Number(match[1]));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`moto_server exited with code ${code}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
