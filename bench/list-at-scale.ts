/**
 * Lists at scale on the file backend: a store of many secrets, several lists whose filter has no
 * literal prefix (so each must scan the whole index) running back to back, and cached GETs of one
 * id measured meanwhile. The store is seeded through the file backend's own module, in this
 * process, before any broker opens it.
 */
import path from 'node:path';
import { createFileBackend } from '../agent/backends/file/index.js';
import { type BrokerChild, bearer, startBrokerChild } from './broker-child.js';
import { readMemory, sampleRss } from './child-processes.js';
import { httpCall } from './endpoints.js';
import { type LoopResult, requestLoop } from './request-loop.js';
import type { BenchSettings } from './scenarios.js';

export interface ListAtScaleResults {
  secrets: number;
  seedSeconds: number;
  /** Spawn to /readyz 200 with the store of `secrets` secrets. */
  readyMs: number;
  idleRssBytes: number;
  loadRssBytes: number;
  listers: number;
  filter: string;
  /** Each list request (one page), while the GETs ran. */
  listPages: LoopResult;
  /** Whole listings (first page to the last `nextCursor`), completed while the GETs ran. */
  listings: { count: number; p50Ms: number; maxMs: number };
  /** Cached GETs of one id while the lists ran, by `getReaders` readers pausing GET_THINK_MS between reads. */
  cachedGet: LoopResult;
  getReaders: number;
  getThinkMs: number;
}

export const SCALE_FILTER = '999';
const HOT_ID = 'scale/hot';
const SEED_WRITERS = 32;
const LISTS_AHEAD_MS = 1000;
/**
 * The GETs are a steady app load, not a saturating one: the figure is how long a reader waits behind
 * the lists, not behind other readers.
 */
const GET_THINK_MS = 10;
const scaleId = (n: number) => `scale/${String(n).padStart(5, '0')}`;

export async function measureListAtScale(
  dir: string,
  settings: BenchSettings,
  value: string,
): Promise<ListAtScaleResults> {
  const storeDir = path.join(dir, 'scale-store');
  const env = { SECRETS_BROKER_FILE_DIR: storeDir, SECRETS_BROKER_FILE_KEY_FILE: path.join(dir, 'scale-store.key') };
  const seedStarted = performance.now();
  await seedFileStore(storeDir, env.SECRETS_BROKER_FILE_KEY_FILE, settings.scaleSecrets, value);
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  const broker = await startBrokerChild({ dir, name: 'scale', env });
  try {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idleRssBytes = (await readMemory(broker.server.pid)).rssBytes;
    const hot = await httpCall(broker.socket, { path: `/secrets/${HOT_ID}`, headers: bearer(broker.token) });
    if (hot.status !== 200) throw new Error(`GET ${HOT_ID} answered ${hot.status}: ${hot.body}`);
    const measured = await listsAndGets(broker, settings);
    return {
      secrets: settings.scaleSecrets,
      seedSeconds,
      readyMs: broker.readyMs,
      idleRssBytes,
      ...measured,
    };
  } finally {
    await broker.server.stop();
  }
}

/** Writes `count` secrets plus the hot one, a few writers at once, with the store's own code. */
async function seedFileStore(dir: string, keyFile: string, count: number, value: string): Promise<void> {
  const backend = await createFileBackend({ dir, keyFile, versionsKept: 2, recoveryWindowDays: 7 });
  try {
    let next = 0;
    const writer = async () => {
      for (let n = next++; n < count; n = next++) {
        await backend.create({ id: scaleId(n), value, encoding: 'utf8' });
      }
    };
    await Promise.all(Array.from({ length: SEED_WRITERS }, writer));
    await backend.create({ id: HOT_ID, value, encoding: 'utf8' });
  } finally {
    await backend.close();
  }
}

async function listsAndGets(
  broker: BrokerChild,
  settings: BenchSettings,
): Promise<Omit<ListAtScaleResults, 'secrets' | 'seedSeconds' | 'readyMs' | 'idleRssBytes'>> {
  const listers = settings.scaleListers;
  const cursors: (string | undefined)[] = Array.from({ length: listers }, () => undefined);
  const listingStarted: number[] = Array.from({ length: listers }, () => performance.now());
  const listingMs: number[] = [];
  const rss = sampleRss(broker.server.pid);
  // The lists start first and outlast the GETs' warm-up and measured run.
  const lists = requestLoop({
    endpoint: broker.tcp,
    headers: bearer(broker.token),
    workers: listers,
    seconds: settings.seconds + (2 * LISTS_AHEAD_MS) / 1000,
    nextPath: (worker) => {
      const cursor = cursors[worker];
      const query = `filter=${encodeURIComponent(SCALE_FILTER)}&limit=100`;
      return `/secrets?${query}${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    },
    onAnswer: (worker, answer) => {
      // A refused page (too many scans at once, say) is asked again as a client would, after Retry-After.
      if (answer.status !== 200) return pause(answer.headers['retry-after']);
      const { nextCursor } = JSON.parse(answer.body) as { nextCursor?: string };
      cursors[worker] = nextCursor;
      if (nextCursor !== undefined) return undefined;
      listingMs.push(performance.now() - (listingStarted[worker] as number));
      listingStarted[worker] = performance.now();
      return undefined;
    },
  });
  // The lists are under way before the GETs start, and outlast them.
  await new Promise((resolve) => setTimeout(resolve, LISTS_AHEAD_MS));
  const getReaders = settings.scaleGetReaders;
  const cachedGet = await requestLoop({
    endpoint: broker.socket,
    headers: bearer(broker.token),
    workers: getReaders,
    thinkMs: GET_THINK_MS,
    seconds: settings.seconds,
    nextPath: () => `/secrets/${HOT_ID}`,
  });
  const listPages = await lists;
  const loadRssBytes = await rss.stop();
  const sorted = [...listingMs].sort((a, b) => a - b);
  return {
    loadRssBytes,
    listers,
    filter: SCALE_FILTER,
    listPages,
    listings: {
      count: sorted.length,
      p50Ms: sorted.length === 0 ? Number.NaN : (sorted[Math.floor(sorted.length / 2)] as number),
      maxMs: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number),
    },
    cachedGet,
    getReaders,
    getThinkMs: GET_THINK_MS,
  };
}

/** Waits out a Retry-After of a few seconds at most (a second when it is absent or unreadable). */
function pause(retryAfter: string | undefined): Promise<void> {
  const seconds = Number(retryAfter);
  const waitMs = Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 5) * 1000 : 1000;
  return new Promise((resolve) => setTimeout(resolve, waitMs));
}
