/**
 * The caller token, read from its file and read again whenever the file changes: a rotated token
 * (a new file, a rewritten one, a Kubernetes volume's symlink swap) is picked up without a restart.
 */
import { readFile, stat } from 'node:fs/promises';
import { SecretsBrokerError } from './errors.js';

export interface TokenSource {
  /** The token to send now. */
  current(): Promise<string>;
  /** Reads the token again after a 401; true when it changed, so the call is worth repeating. */
  refresh(): Promise<boolean>;
}

export function fixedToken(token: string): TokenSource {
  return { current: async () => token, refresh: async () => false };
}

export class TokenFile implements TokenSource {
  readonly #path: string;
  #token: string | undefined;
  #stamp: string | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  async current(): Promise<string> {
    // One stat per call: cheap next to the request, and it catches a rotation before it costs a 401.
    // A rewrite the stat cannot see (same size, coarse mtime) is caught by refresh() after the 401.
    const stamp = await this.#stampNow();
    if (this.#token === undefined || stamp !== this.#stamp) await this.#read(stamp);
    return this.#token as string;
  }

  async refresh(): Promise<boolean> {
    const before = this.#token;
    await this.#read(await this.#stampNow());
    return this.#token !== before;
  }

  async #stampNow(): Promise<string> {
    try {
      const info = await stat(this.#path);
      return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
    } catch (err) {
      throw this.#unreadable(err);
    }
  }

  async #read(stamp: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      throw this.#unreadable(err);
    }
    const token = text.trim();
    if (!token) throw new SecretsBrokerError('token_unreadable', 0, `the token file ${this.#path} is empty`);
    this.#token = token;
    this.#stamp = stamp;
  }

  #unreadable(err: unknown): SecretsBrokerError {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return new SecretsBrokerError('token_unreadable', 0, `cannot read the token file ${this.#path}: ${reason}`, {
      cause: err,
    });
  }
}
