/**
 * The broker on the AWS backend, against moto through a proxy that counts Secrets Manager calls and
 * can take the backend down: what a cache miss costs in calls, and how reads fare once the backend
 * is gone and every cached entry is past its TTL.
 */
import { type BackendProxy, type ProxyMode, startBackendProxy } from './backend-proxy.js';
import { bearer, startBrokerChild } from './broker-child.js';
import { httpCall } from './endpoints.js';
import { motoMissing, startMoto } from './moto.js';
import { type LoopResult, requestLoop } from './request-loop.js';

export interface AwsResults {
  /** Why the AWS rows were not measured, when they were not. */
  notMeasured?: string;
  misses: number;
  /** Secrets Manager calls seen at the proxy while the misses were read, per operation. */
  missCalls: Record<string, number>;
  callsPerMiss: number;
  /** Reads past TTL with the backend refusing connections, then with it swallowing requests. */
  stale: { mode: ProxyMode; ttlMs: number; result: LoopResult }[];
}

const IDS = 16;
const TTL_MS = 1000;
const STALE_IF_ERROR_MS = 10 * 60_000;
/**
 * Readers during the outage: a steady app load (at most a few hundred reads/s), not a saturating
 * one, so that the figure is what a reader waits for the stale value rather than queueing.
 */
const READ_WORKERS = 4;
const READ_THINK_MS = 10;
const awsId = (n: number) => `bench/aws/${String(n).padStart(2, '0')}`;

/** The broker's AWS settings; moto takes any credentials and real ones must never be used here. */
function awsEnv(endpoint: string): Record<string, string> {
  return {
    SECRETS_BROKER_BACKEND: 'aws',
    SECRETS_BROKER_AWS_REGION: 'us-east-1',
    SECRETS_BROKER_AWS_ENDPOINT: endpoint,
    SECRETS_BROKER_CACHE_STALE_IF_ERROR_MS: String(STALE_IF_ERROR_MS),
    AWS_ACCESS_KEY_ID: 'AKIAMOTOBENCHKEY0000',
    AWS_SECRET_ACCESS_KEY: 'moto-bench-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

export async function measureAws(dir: string, value: string, seconds: number): Promise<AwsResults> {
  const missing = motoMissing();
  if (missing) return { notMeasured: missing, misses: 0, missCalls: {}, callsPerMiss: Number.NaN, stale: [] };
  const moto = await startMoto();
  try {
    const proxy = await startBackendProxy(moto.endpoint);
    try {
      await seedAws(dir, proxy, value);
      return await missesThenOutage(dir, proxy, seconds);
    } finally {
      await proxy.close();
    }
  } finally {
    await moto.stop();
  }
}

/** Creates the secrets through a broker of its own, so the measured broker starts with an empty cache. */
async function seedAws(dir: string, proxy: BackendProxy, value: string): Promise<void> {
  const broker = await startBrokerChild({ dir, name: 'aws-seed', env: awsEnv(proxy.url) });
  try {
    for (let n = 0; n < IDS; n++) {
      const answer = await httpCall(broker.socket, {
        method: 'POST',
        path: '/secrets',
        headers: bearer(broker.token),
        body: { id: awsId(n), value },
      });
      if (answer.status !== 201)
        throw new Error(`seeding ${awsId(n)} on moto answered ${answer.status}: ${answer.body}`);
    }
  } finally {
    await broker.server.stop();
  }
}

async function missesThenOutage(dir: string, proxy: BackendProxy, seconds: number): Promise<AwsResults> {
  const broker = await startBrokerChild({ dir, name: 'aws', cacheTtlMs: TTL_MS, env: awsEnv(proxy.url) });
  try {
    // One read at a time: each is a miss of its own, with nothing to share a backend call with.
    const before = proxy.counts();
    for (let n = 0; n < IDS; n++) {
      const answer = await httpCall(broker.socket, { path: `/secrets/${awsId(n)}`, headers: bearer(broker.token) });
      if (answer.status !== 200) throw new Error(`GET ${awsId(n)} on moto answered ${answer.status}: ${answer.body}`);
    }
    const missCalls = difference(proxy.counts(), before);
    const total = Object.values(missCalls).reduce((sum, calls) => sum + calls, 0);
    const stale: AwsResults['stale'] = [];
    for (const mode of ['reset', 'hang'] as const) {
      proxy.setMode(mode);
      // Every entry is now past its TTL (they were all read within the last few hundred ms).
      await new Promise((resolve) => setTimeout(resolve, TTL_MS * 1.5));
      const result = await requestLoop({
        endpoint: broker.socket,
        headers: bearer(broker.token),
        workers: READ_WORKERS,
        thinkMs: READ_THINK_MS,
        seconds: seconds / 2,
        nextPath: (() => {
          let next = 0;
          return () => `/secrets/${awsId(next++ % IDS)}`;
        })(),
      });
      stale.push({ mode, ttlMs: TTL_MS, result });
    }
    proxy.setMode('up');
    return { misses: IDS, missCalls, callsPerMiss: total / IDS, stale };
  } finally {
    await broker.server.stop();
  }
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [operation, count] of Object.entries(after)) {
    const made = count - (before[operation] ?? 0);
    if (made > 0) delta[operation] = made;
  }
  return delta;
}
