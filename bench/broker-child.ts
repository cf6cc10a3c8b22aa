/**
 * The real broker as it ships (the bundled entry the image runs, `node dist/bundle/main.js serve`)
 * as a child process, configured only through its environment, on the file backend in a benchmark
 * directory.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ServerChild, spawnNode } from './child-processes.js';
import { type Endpoint, freePort, httpCall, waitForStatus } from './endpoints.js';

/** dist/bench/ -> dist/bundle/main.js, which `npm run bench` builds first (scripts/bundle.mjs). */
export const BROKER_MAIN = fileURLToPath(new URL('../bundle/main.js', import.meta.url));

/** Generous: a store of 20,000 secrets is indexed before the broker gets ready. */
const READY_TIMEOUT_MS = 60_000;

export interface BrokerChildOptions {
  /** Holds the store, its key, the socket, the token and the locks; shared by successive starts. */
  dir: string;
  /** A name for this start's socket (several brokers may share `dir`, one at a time). */
  name: string;
  /** SECRETS_BROKER_CACHE_TTL_MS; the shipped default (60 s) when absent. */
  cacheTtlMs?: number;
  /** More settings, over the file backend's (e.g. SECRETS_BROKER_BACKEND=aws and its endpoint). */
  env?: Record<string, string>;
  /** Node flags for this start only, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}

export interface BrokerChild {
  server: ServerChild;
  socket: Endpoint;
  tcp: Endpoint;
  /** The bearer token the broker wrote (or reused) beside its socket. */
  token: string;
  /** From spawn to the first 200 of /readyz on TCP, the listener bound last. */
  readyMs: number;
}

/**
 * The environment of a broker on the file backend in `dir`: every start shares the store, its
 * key, the token and the lock directory; each gets its own socket, `<dir>/<name>.sock`.
 */
export function brokerEnv(dir: string, name: string): Record<string, string> {
  return {
    SECRETS_BROKER_BACKEND: 'file',
    SECRETS_BROKER_FILE_DIR: path.join(dir, 'store'),
    SECRETS_BROKER_SOCKET: path.join(dir, `${name}.sock`),
    SECRETS_BROKER_TOKEN_FILE: path.join(dir, 'token'),
    SECRETS_BROKER_LOCK_DIR: path.join(dir, 'locks'),
    // The shipped default: a hot path that logged at info would show up in the figures.
    SECRETS_BROKER_LOG_LEVEL: 'info',
  };
}

/** Starts the broker and waits until /readyz answers 200. */
export async function startBrokerChild(options: BrokerChildOptions): Promise<BrokerChild> {
  const port = await freePort();
  const env: Record<string, string> = {
    ...brokerEnv(options.dir, options.name),
    SECRETS_BROKER_LISTEN_HOST: '127.0.0.1',
    SECRETS_BROKER_LISTEN_PORT: String(port),
    ...(options.cacheTtlMs === undefined ? {} : { SECRETS_BROKER_CACHE_TTL_MS: String(options.cacheTtlMs) }),
    ...options.env,
  };
  const socketPath = env.SECRETS_BROKER_SOCKET;
  const tcp: Endpoint = { kind: 'tcp', host: '127.0.0.1', port };
  const started = performance.now();
  const server = spawnNode([BROKER_MAIN, 'serve'], env, options.dir, options.nodeArgs);
  try {
    await waitForStatus(tcp, '/readyz', 200, READY_TIMEOUT_MS, () => server.child.exitCode === null);
  } catch (err) {
    await server.stop();
    throw new Error(`broker did not get ready: ${(err as Error).message}\n${server.output()}`);
  }
  const readyMs = performance.now() - started;
  const token = (await readFile(env.SECRETS_BROKER_TOKEN_FILE as string, 'utf8')).trim();
  return { server, socket: { kind: 'socket', socketPath: socketPath as string }, tcp, token, readyMs };
}

/** The sum of `secrets_broker_backend_calls_total{operation="<operation>"}` over every outcome. */
export async function backendCalls(broker: BrokerChild, operation: string): Promise<number> {
  const text = await metricsText(broker);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('secrets_broker_backend_calls_total{')) continue;
    if (!line.includes(`operation="${operation}"`)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** The value of `secrets_broker_cache_events_total{event="<event>"}`, 0 if never counted. */
export async function cacheEvents(broker: BrokerChild, event: string): Promise<number> {
  const text = await metricsText(broker);
  const line = text.split('\n').find((l) => l.startsWith(`secrets_broker_cache_events_total{event="${event}"}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function metricsText(broker: BrokerChild): Promise<string> {
  const answer = await httpCall(broker.socket, { path: '/metrics', headers: bearer(broker.token) });
  if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}`);
  return answer.body;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
