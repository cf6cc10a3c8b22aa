/**
 * Rendered files, for apps that read secrets from files rather than over HTTP. Each render entry
 * names a secret and a path; the renderer writes the secret's value there (binary values as raw
 * bytes) before the broker reports ready, and again whenever its version changes. Changes arrive
 * through the broker's watch machinery: its pollers for writes made straight in the store, and the
 * version markers for writes through other brokers sharing the lock volume (seen within a second).
 *
 * Values never reach a log: a line names the id, the path, the version and an error code only.
 */
import type { Logger } from 'pino';
import type { SecretRecord } from '../backends/contract.js';
import { SecretError } from '../backends/errors.js';
import { NotModified, type SecretBroker } from '../broker/secret-broker.js';
import { RenderTargetError, removeLeftoverTemps, replaceFile } from './atomic-file.js';

/** One file to keep in step with one secret. */
export interface RenderEntry {
  id: string;
  /** Absolute path of the file; its directory must exist. */
  path: string;
  /** File mode, e.g. 0o440. */
  mode: number;
}

export interface SecretFilesOptions {
  broker: Pick<SecretBroker, 'read' | 'watch'>;
  renders: readonly RenderEntry[];
  logger: Pick<Logger, 'info' | 'error'>;
  /** First wait after a failed render; it doubles up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/** How long one watch is held before it is opened again (any length works; this bounds idle work). */
const WATCH_WAIT_MS = 60_000;

/** What readiness asks of the renderer. */
export interface RenderProgress {
  /** Renders not yet written once since start. */
  readonly pending: number;
  readonly total: number;
}

export class SecretFiles implements RenderProgress {
  readonly #options: SecretFilesOptions;
  readonly #written = new Set<RenderEntry>();
  readonly #stop = new AbortController();
  #loops: Promise<void>[] = [];

  constructor(options: SecretFilesOptions) {
    this.#options = options;
  }

  get pending(): number {
    return this.#options.renders.length - this.#written.size;
  }

  get total(): number {
    return this.#options.renders.length;
  }

  /** Starts following every render; each writes its file as soon as it can read the secret. */
  start(): void {
    this.#loops = this.#options.renders.map((entry) => this.#follow(entry));
  }

  /** Ends every watch and waits for the loops; a write under way completes first. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.all(this.#loops);
  }

  async #follow(entry: RenderEntry): Promise<void> {
    const { broker, retryDelayMs = 500, maxRetryDelayMs = 10_000 } = this.#options;
    const signal = this.#stop.signal;
    await removeLeftoverTemps(entry.path);
    let version: string | undefined;
    let failing: string | undefined;
    let delay = retryDelayMs;
    while (!signal.aborted) {
      try {
        const read =
          version === undefined
            ? await broker.read(entry.id)
            : await broker.watch(entry.id, version, WATCH_WAIT_MS, signal);
        if (read instanceof NotModified) continue;
        const record = read.record;
        if (record.version !== version) {
          await replaceFile(entry.path, valueBytes(record), entry.mode);
          version = record.version;
          this.#rendered(entry, version);
        }
        failing = undefined;
        delay = retryDelayMs;
      } catch (err) {
        if (signal.aborted) break;
        const code = errorCode(err);
        // One line per kind of failure, not one per retry: a missing secret would flood the log.
        if (code !== failing) this.#failed(entry, code, err, version !== undefined);
        failing = code;
        await pause(delay, signal);
        delay = Math.min(delay * 2, maxRetryDelayMs);
      }
    }
  }

  #rendered(entry: RenderEntry, version: string): void {
    const first = !this.#written.has(entry);
    this.#written.add(entry);
    this.#options.logger.info(
      { id: entry.id, path: entry.path, version },
      first ? 'secret file rendered' : 'secret file rewritten',
    );
  }

  #failed(entry: RenderEntry, code: string, err: unknown, hasFile: boolean): void {
    // SecretError and RenderTargetError messages name ids and paths only; other errors give their code.
    const reason = err instanceof SecretError || err instanceof RenderTargetError ? err.message : code;
    const message = hasFile
      ? 'cannot refresh a rendered secret file; it keeps the last value'
      : 'cannot render a secret file; the broker is not ready until it can';
    this.#options.logger.error({ id: entry.id, path: entry.path, code, reason }, message);
  }
}

/** The bytes the app reads: text as UTF-8, binary values decoded from base64. */
function valueBytes(record: SecretRecord): Buffer {
  return Buffer.from(record.value, record.encoding === 'base64' ? 'base64' : 'utf8');
}

function errorCode(err: unknown): string {
  if (err instanceof SecretError || err instanceof RenderTargetError) return err.code;
  return (err as NodeJS.ErrnoException).code ?? 'internal';
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
