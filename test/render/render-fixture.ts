/**
 * What the render tests share: a real file store and lock directory in a temp directory, brokers
 * over them (each with its own backend instance, as two sidecars sharing the volumes have), and a
 * renderer whose log lines are kept so tests can look for ids and make sure no value is there.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Test } from 'tap';
import { createFileBackend } from '../../agent/backends/file/index.js';
import { ReadThroughCache } from '../../agent/broker/read-through-cache.js';
import { SecretBroker } from '../../agent/broker/secret-broker.js';
import { FileSecretLocks } from '../../agent/broker/secret-locks.js';
import { createLogger } from '../../agent/observability/logger.js';
import { type RenderEntry, SecretFiles } from '../../agent/render/secret-files.js';
import { FAST_RETRY } from '../helpers/broker-app.js';

export interface RenderFixture {
  root: string;
  /** The shared in-memory volume of a pod, here a temp directory. */
  outDir: string;
  /** A broker over the shared store and lock directory; every call makes a new one. */
  broker(): Promise<SecretBroker>;
  /** A started renderer on `broker`, stopped at teardown. */
  render(broker: SecretBroker, renders: RenderEntry[]): SecretFiles;
  /** Every log line the renderers wrote so far. */
  logText(): string;
}

export async function renderFixture(t: Test): Promise<RenderFixture> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'sb-render-'));
  const outDir = path.join(root, 'out');
  await mkdir(outDir);
  const lines: string[] = [];
  const logger = createLogger(
    'trace',
    new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  const closers: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const close of closers.reverse()) await close();
    await rm(root, { recursive: true, force: true });
  });
  return {
    root,
    outDir,
    broker: async () => {
      const backend = await createFileBackend({
        dir: path.join(root, 'store'),
        keyFile: path.join(root, 'store.key'),
        versionsKept: 2,
        recoveryWindowDays: 7,
      });
      const broker = new SecretBroker({
        backend,
        locks: new FileSecretLocks({ dir: path.join(root, 'locks'), waitMs: 2000, staleMs: 10_000 }),
        cache: new ReadThroughCache({ ttlMs: 600_000, maxEntries: 100, staleIfErrorMs: 0, jitterRatio: 0 }),
        retry: FAST_RETRY,
        // Pollers this slow play no part: a change must arrive through the broker or the version markers.
        watch: { pollIntervalMs: 600_000, maxWatches: 100 },
      });
      closers.push(() => broker.close());
      return broker;
    },
    render: (broker, renders) => {
      const files = new SecretFiles({ broker, renders, logger, retryDelayMs: 20, maxRetryDelayMs: 100 });
      closers.push(() => files.stop());
      files.start();
      return files;
    },
    logText: () => lines.join(''),
  };
}

/** Polls `check` every 10 ms for at most ~5 s; true once it held. */
export async function eventually(check: () => boolean | Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

/** The file's content, or undefined while it does not exist. */
export async function contentOf(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch(() => undefined);
}
