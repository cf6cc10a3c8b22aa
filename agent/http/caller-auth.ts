/**
 * Who may call: a bearer token from a file on the shared socket volume. The broker creates it when
 * absent and reuses it across restarts, so app containers that read it keep working.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, type FileHandle, link, mkdir, open, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SecretError } from '../backends/errors.js';

/** Routes a probe must reach without a token. */
const OPEN_PATHS = new Set(['/healthz', '/readyz']);

/** Shortest token accepted from an existing file: shorter ones are guessable. */
const MIN_TOKEN_LENGTH = 16;

/**
 * Reads the caller token, or writes a new random one (mode 0640) when the file does not exist.
 * The token path is trusted, so a symbolic link there (dangling or not) is refused rather than
 * followed: following it would make another file's content the token.
 */
export async function ensureCallerToken(file: string): Promise<string> {
  try {
    return await readTokenFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(path.dirname(file), { recursive: true });
  await publishToken(file);
  // Whoever linked first, this broker or another starting at the same moment, the file now holds
  // everyone's token. Should it have vanished meanwhile, the read fails naming the path.
  return readTokenFile(file);
}

/** The token in `file`; never follows a symbolic link. A missing file is ENOENT, as `open` reports it. */
async function readTokenFile(file: string): Promise<string> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted at the path must not hang the start-up.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new Error(`token file ${file} is a symbolic link; the broker never follows one: replace it with a file`);
    }
    throw err;
  }
  try {
    if (!(await handle.stat()).isFile()) throw new Error(`token file ${file} is not a regular file`);
    const token = (await handle.readFile('utf8')).trim();
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new Error(
        `token file ${file} holds fewer than ${MIN_TOKEN_LENGTH} characters; remove it to have a new one generated`,
      );
    }
    return token;
  } finally {
    await handle.close();
  }
}

/**
 * The temp token file is private from its creation (the chmod that follows only undoes the umask),
 * and `wx` refuses whatever already sits at its random name. Hardening against other processes on
 * the volume: no test can see it without patching the file system.
 */
// Stryker disable next-line ObjectLiteral,StringLiteral: hardening no test can observe (see above)
const TEMP_TOKEN_FILE = { mode: 0o640, flag: 'wx' } as const;

/**
 * Writes a new token whole to a private temp file, then links it into place: a broker starting at
 * the same moment sees either no token file or a complete one. A file that already took the name
 * wins (`link` never follows or replaces what is there); any other failure throws.
 */
async function publishToken(file: string): Promise<void> {
  const token = randomBytes(32).toString('base64url');
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, `${token}\n`, TEMP_TOKEN_FILE);
    // The umask may have narrowed the mode; the app containers' group must still read the token.
    await chmod(temp, 0o640);
    await link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** `Bearer <token>`, any case, any spacing: the spellings the fast path does not cover. */
const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * The onRequest check of the API listeners: refuse proxied requests (SSRF defence: a request that
 * went through a proxy did not come from a container of this pod), then require the bearer token.
 */
export function callerAuthHook(token: string) {
  const isCallerToken = tokenCheck(token);
  // A callback-style hook: it runs on every request, and an async one costs a promise each time.
  return (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void => {
    if (request.headers['x-forwarded-for'] !== undefined) {
      done(new SecretError('forbidden', 'requests carrying X-Forwarded-For are refused'));
      return;
    }
    if (OPEN_PATHS.has(pathOf(request.url))) {
      done();
      return;
    }
    if (!isCallerToken(request.headers.authorization)) {
      done(new SecretError('unauthorized', 'a valid Authorization: Bearer token is required'));
      return;
    }
    done();
  };
}

/**
 * A constant-time check of an Authorization header against the caller token. The expected forms
 * are computed once. The usual spelling (`Bearer <token>`) is compared byte for byte: no hash per
 * request; `timingSafeEqual` needs equal lengths, and only the length, which is not secret, decides
 * whether it runs. Other spellings are parsed and compared as SHA-256 digests, whose fixed length
 * keeps that comparison constant-time whatever the length sent.
 */
export function tokenCheck(token: string): (header: string | undefined) => boolean {
  const usual = Buffer.from(`Bearer ${token}`);
  const expectedDigest = digest(token);
  return (header) => {
    if (header === undefined) return false;
    const sent = Buffer.from(header);
    if (sent.length === usual.length && timingSafeEqual(sent, usual)) return true;
    const match = BEARER.exec(header);
    return match !== null && timingSafeEqual(digest(match[1] as string), expectedDigest);
  };
}

/** The path without its query, without splitting into an array on every request. */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
