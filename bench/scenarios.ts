/**
 * The measurements of `npm run bench`, one function each. Every server under test is a child
 * process on the file backend in one benchmark directory; this process only generates load.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrokerChild, backendCalls, bearer, cacheEvents, startBrokerChild } from './broker-child.js';
import { readCpuMicros, readMemory, type ServerChild, sampleRss, spawnNode, waitForOutput } from './child-processes.js';
import { concurrentReads } from './concurrent-reads.js';
import { type Endpoint, freePort, httpCall, waitForStatus } from './endpoints.js';
import { type LoadResult, type LoadSpec, measure, measureInterleaved } from './load.js';
import type { BenchResults, CachedGetPair } from './report.js';

export interface BenchSettings {
  connections: number;
  warmupSeconds: number;
  seconds: number;
  valueBytes: number;
  readyStarts: number;
  concurrentReaders: number;
  coldIds: number;
  /** Slices the measured time of a broker-vs-bare comparison is cut into, run alternately. */
  rounds: number;
  /** Lists at scale: secrets in the store, lists running at once, readers of the measured GETs. */
  scaleSecrets: number;
  scaleListers: number;
  scaleGetReaders: number;
}

export const HOT_ID = 'bench/one-kib';
/** The broker's answer for HOT_ID, saved in the benchmark directory for the bare server to serve. */
export const BODY_FILE = 'bare-body.json';
export const COALESCE_ID = 'bench/coalesce';
const coldId = (n: number) => `bench/cold/${String(n).padStart(4, '0')}`;
export const putId = (n: number) => `bench/put/${String(n).padStart(3, '0')}`;

export const BARE_SERVER = fileURLToPath(new URL('./bare-server.js', import.meta.url));

/** A printable value of exactly `bytes` bytes (ASCII), different on every run. */
export function benchValue(bytes: number): string {
  return randomBytes(bytes).toString('base64url').slice(0, bytes);
}

/** Creates every secret the measurements read or write, through a broker that is stopped afterwards. */
export async function seedStore(dir: string, settings: BenchSettings, value: string): Promise<void> {
  const broker = await startBrokerChild({ dir, name: 'seed' });
  try {
    const ids = [HOT_ID, COALESCE_ID];
    for (let n = 0; n < settings.coldIds; n++) ids.push(coldId(n));
    for (let n = 0; n < settings.connections; n++) ids.push(putId(n));
    // A few writers at once: enough to be quick, few enough not to need the lock wait.
    const queue = [...ids];
    const writer = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const answer = await httpCall(broker.socket, {
          method: 'POST',
          path: '/secrets',
          headers: bearer(broker.token),
          body: { id, value },
        });
        if (answer.status !== 201) throw new Error(`seeding ${id} answered ${answer.status}: ${answer.body}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, writer));
  } finally {
    await broker.server.stop();
  }
}

/**
 * Starts the broker `starts` times on the seeded store, timing spawn to /readyz 200; every start
 * but the last is stopped again, and the last one keeps running for the measurements that follow.
 */
export async function measureStarts(
  dir: string,
  starts: number,
): Promise<{ samplesMs: number[]; broker: BrokerChild }> {
  const samplesMs: number[] = [];
  for (let n = 1; ; n++) {
    const broker = await startBrokerChild({ dir, name: 'serve' });
    samplesMs.push(broker.readyMs);
    if (n >= starts) return { samplesMs, broker };
    await broker.server.stop();
  }
}

/** Many readers of one id the fresh broker has never read, counted through its own metrics. */
export async function measureCoalescing(broker: BrokerChild, readers: number): Promise<BenchResults['coalescing']> {
  const before = await backendCalls(broker, 'get');
  const result = await concurrentReads(broker.socket, `/secrets/${COALESCE_ID}`, bearer(broker.token), readers);
  const backendCallsMade = (await backendCalls(broker, 'get')) - before;
  return { readers, backendCalls: backendCallsMade, ...result };
}

/**
 * Cached reads of the 1 KiB secret, on each listener, against a bare Fastify app serving the
 * broker's own answer from the same kind of listener, the two measured in alternating slices.
 * Returns the pairs and the largest RSS sampled of each.
 */
export async function measureCachedGets(
  dir: string,
  broker: BrokerChild,
  bodyFile: string,
  settings: BenchSettings,
): Promise<{ socket: CachedGetPair; tcp: CachedGetPair; loadRssBytes: number; bareLoadRssBytes: number }> {
  let loadRssBytes = 0;
  let bareLoadRssBytes = 0;
  const pair = async (listener: 'socket' | 'tcp'): Promise<CachedGetPair> => {
    const bare = await startBare(dir, bodyFile, listener);
    try {
      let hitsBefore = 0;
      const brokerCpu = cpuMeter(broker.server.pid);
      const bareCpu = cpuMeter(bare.server.pid);
      const brokerRss = sampleRss(broker.server.pid);
      const bareRss = sampleRss(bare.server.pid);
      const [measured, baseline] = (await measureInterleaved(
        [
          {
            ...getSpec(broker[listener], `/secrets/${HOT_ID}`, broker.token, settings),
            afterWarmup: async () => {
              hitsBefore = await cacheEvents(broker, 'hit');
              await brokerCpu.start();
            },
          },
          { ...getSpec(bare.endpoint, `/secrets/${HOT_ID}`, broker.token, settings), afterWarmup: bareCpu.start },
        ],
        settings.rounds,
      )) as [LoadResult, LoadResult];
      loadRssBytes = Math.max(loadRssBytes, await brokerRss.stop());
      bareLoadRssBytes = Math.max(bareLoadRssBytes, await bareRss.stop());
      const hits = (await cacheEvents(broker, 'hit')) - hitsBefore;
      const reads = measured.ok + measured.notOk;
      return {
        broker: measured,
        bare: baseline,
        ratio: measured.requestsPerSecond / baseline.requestsPerSecond,
        // Reads still in flight when a slice stopped may count as hits on the server only.
        hitRatio: reads === 0 ? 0 : Math.min(1, hits / reads),
        // The two /metrics scrapes fall inside the window too: a few requests among 100,000s.
        brokerCpuMicrosPerRead: await brokerCpu.perRequest(reads),
        bareCpuMicrosPerRead: await bareCpu.perRequest(baseline.ok + baseline.notOk),
      };
    } finally {
      await bare.server.stop();
    }
  };
  const socket = await pair('socket');
  const tcp = await pair('tcp');
  return { socket, tcp, loadRssBytes, bareLoadRssBytes };
}

/** CPU time of a process from `start()` on, per request served (idle slices cost it next to nothing). */
function cpuMeter(pid: number): { start(): Promise<void>; perRequest(requests: number): Promise<number> } {
  let before = 0;
  return {
    start: async () => {
      before = await readCpuMicros(pid);
    },
    perRequest: async (requests) => (requests === 0 ? Number.NaN : ((await readCpuMicros(pid)) - before) / requests),
  };
}

/** Reads the 1 KiB secret once (which also caches it) and saves the answer for the bare server to serve. */
export async function saveBrokerAnswer(dir: string, broker: BrokerChild, name: string): Promise<string> {
  const first = await httpCall(broker.socket, { path: `/secrets/${HOT_ID}`, headers: bearer(broker.token) });
  if (first.status !== 200) throw new Error(`GET ${HOT_ID} answered ${first.status}`);
  const bodyFile = path.join(dir, name);
  await writeFile(bodyFile, first.body, { mode: 0o600 });
  return bodyFile;
}

/**
 * The runtime's own floor for start-up and memory: the bare Fastify server started `starts` times
 * (spawn to its first 200 over TCP), and its RSS once settled after the last start.
 */
export async function measureBareStarts(
  dir: string,
  bodyFile: string,
  starts: number,
  settleMs: number,
): Promise<Omit<BenchResults['bare'], 'loadRssBytes'>> {
  const samplesMs: number[] = [];
  for (let n = 1; ; n++) {
    const port = await freePort();
    const started = performance.now();
    const bare = spawnNode([BARE_SERVER, bodyFile, 'tcp', String(port)], {}, dir);
    try {
      const tcp: Endpoint = { kind: 'tcp', host: '127.0.0.1', port };
      await waitForStatus(tcp, `/secrets/${HOT_ID}`, 200, 20_000, () => bare.child.exitCode === null);
      samplesMs.push(performance.now() - started);
      if (n >= starts) {
        await new Promise((resolve) => setTimeout(resolve, settleMs));
        const { rssBytes } = await readMemory(bare.pid);
        return { startSamplesMs: samplesMs, idleRssBytes: rssBytes };
      }
    } finally {
      await bare.stop();
    }
  }
}

async function startBare(
  dir: string,
  bodyFile: string,
  listener: 'socket' | 'tcp',
): Promise<{ server: ServerChild; endpoint: Endpoint }> {
  const port = await freePort();
  const socketPath = path.join(dir, 'bare.sock');
  const server = spawnNode(
    [BARE_SERVER, bodyFile, listener, listener === 'socket' ? socketPath : String(port)],
    {},
    dir,
  );
  try {
    await waitForOutput(server, 'bare server listening', 10_000);
  } catch (err) {
    await server.stop();
    throw err;
  }
  const endpoint: Endpoint =
    listener === 'socket' ? { kind: 'socket', socketPath } : { kind: 'tcp', host: '127.0.0.1', port };
  return { server, endpoint };
}

export function getSpec(endpoint: Endpoint, urlPath: string, token: string, settings: BenchSettings): LoadSpec {
  return {
    endpoint,
    path: urlPath,
    headers: bearer(token),
    connections: settings.connections,
    warmupSeconds: settings.warmupSeconds,
    seconds: settings.seconds,
  };
}

/** Cache off, reads rotating over many ids so that concurrent reads rarely share a backend load. */
export async function measureColdReads(dir: string, settings: BenchSettings): Promise<BenchResults['coldRead']> {
  const broker = await startBrokerChild({ dir, name: 'cold', cacheTtlMs: 0 });
  try {
    let next = 0;
    let before = 0;
    const measured = await measure({
      ...getSpec(broker.socket, `/secrets/${coldId(0)}`, broker.token, settings),
      nextPath: () => `/secrets/${coldId(next++ % settings.coldIds)}`,
      afterWarmup: async () => {
        before = await backendCalls(broker, 'get');
      },
    });
    const gets = (await backendCalls(broker, 'get')) - before;
    const reads = measured.ok + measured.notOk;
    return { ...measured, backendGetsPerRead: reads === 0 ? 0 : gets / reads };
  } finally {
    await broker.server.stop();
  }
}

/** RSS of the running broker once it has settled after start. */
export async function idleRss(broker: BrokerChild, settleMs: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  return (await readMemory(broker.server.pid)).rssBytes;
}
