/**
 * Who may call: a bearer token from a file on the shared socket volume. The broker creates it when
 * absent and reuses it across restarts, so app containers that read it keep working.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SecretError } from '../backends/errors.js';

/** Routes a probe must reach without a token. */
const OPEN_PATHS = new Set(['/healthz', '/readyz']);

/** Reads the caller token, or writes a new random one (mode 0640) when the file does not exist. */
export async function ensureCallerToken(file: string): Promise<string> {
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length >= 16) return existing;
    throw new Error(`token file ${file} holds fewer than 16 characters; remove it to have a new one generated`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(path.dirname(file), { recursive: true });
  const token = randomBytes(32).toString('base64url');
  // Written whole to a private temp file, then linked into place: a broker starting at the same
  // moment sees either no token file or a complete one, and if it linked first, its token wins.
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, `${token}\n`, { mode: 0o640, flag: 'wx' });
    // The umask may have narrowed the mode; the app containers' group must still read the token.
    await chmod(temp, 0o640);
    await link(temp, file);
    return token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return ensureCallerToken(file);
    throw err;
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
    if (!isCallerToken(request.headers.authorization ?? '')) {
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
function tokenCheck(token: string): (header: string) => boolean {
  const usual = Buffer.from(`Bearer ${token}`, 'utf8');
  const expectedDigest = digest(token);
  return (header) => {
    if (header.length === usual.length) {
      const sent = Buffer.from(header, 'utf8');
      if (sent.length === usual.length && timingSafeEqual(sent, usual)) return true;
    }
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
