/**
 * Durable file I/O for the file store. Every write goes to a temp file in the same directory, is
 * fsynced, renamed over its target, and the directory is fsynced, so a crash leaves either the old
 * or the new file, never a torn one. Only ciphertext ever reaches these functions.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, type FileHandle, link, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isProcessGone, ownProcessIdentity } from '../../process-identity.js';
import { SecretError } from '../errors.js';

/** Errors a retry may cure or an operator must fix on the volume: the store is unavailable, not wrong. */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  'EIO',
  'ENOSPC',
  'EDQUOT',
  'EROFS',
  'EMFILE',
  'ENFILE',
  'EAGAIN',
  'EBUSY',
  'ETIMEDOUT',
  'ESTALE',
  'ENOENT',
]);

const TEMP_SUFFIX = '.tmp';

/** The `code` of a Node system error, if it is one. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** What an operator reads when the volume refuses to grow: no value, just the directory and the cause. */
const FULL_VOLUME: Readonly<Record<string, string>> = {
  ENOSPC: 'no space is left on the volume of the store directory',
  EDQUOT: 'the disk quota of the store directory is used up',
};

/**
 * Turns a file system failure into a {@link SecretError}. `what` names the operation and the id
 * (never a value); `dir`, when known, is the store directory a full volume is reported for. The
 * original error stays as `cause`.
 */
export function storeIoError(what: string, err: unknown, dir?: string): SecretError {
  if (err instanceof SecretError) return err;
  const code = errnoCode(err) ?? 'unknown error';
  const full = FULL_VOLUME[code];
  if (full !== undefined) {
    const where = dir === undefined ? '' : ` '${dir}'`;
    return new SecretError('backend_unavailable', `file store could not ${what}: ${full}${where} (${code})`, {
      cause: err,
    });
  }
  const kind = UNAVAILABLE_CODES.has(code) ? 'backend_unavailable' : 'backend_error';
  return new SecretError(kind, `file store could not ${what} (${code})`, { cause: err });
}

/**
 * Opens a file of the store for reading, or returns `undefined` if it does not exist. The store's
 * files are trusted, so a symbolic link at their path (dangling or not) is refused, never followed,
 * and so is anything but a regular file (O_NONBLOCK: a FIFO must not hang the broker).
 */
async function openStoreFile(path: string): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    if (errnoCode(err) === 'ELOOP') throw linkRefused(path, err);
    throw err;
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new SecretError('backend_error', `file store path '${path}' is not a regular file`);
  }
  return handle;
}

/** Reads a whole file, or `undefined` if it does not exist; never through a symbolic link. */
export async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  const handle = await openStoreFile(path);
  if (handle === undefined) return undefined;
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Reads the first `length` bytes of a file, or `undefined` if it does not exist; never through a link. */
export async function readFileHead(path: string, length: number): Promise<Buffer | undefined> {
  const handle = await openStoreFile(path);
  if (handle === undefined) return undefined;
  try {
    const head = Buffer.alloc(length);
    const { bytesRead } = await handle.read(head, 0, length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Makes directory entries (renames, links, unlinks) durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `data` to a fresh temp file beside `target`, fsynced, and returns the temp file's path. */
async function writeTempFile(target: string, data: Buffer, mode: number): Promise<string> {
  const temp = join(
    dirname(target),
    `.${basename(target)}.${writerMark()}${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`,
  );
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  return temp;
}

/** Replaces `target` with `data` atomically and durably (temp file, fsync, rename, fsync dir). */
export async function writeFileAtomic(target: string, data: Buffer, mode = 0o600): Promise<void> {
  const temp = await writeTempFile(target, data, mode);
  try {
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dirname(target));
}

/**
 * Creates `target` with `data` only if it does not exist yet, atomically: the content is complete
 * before the name appears, and of two processes racing, exactly one wins (`link` fails with EEXIST
 * for the other, like O_EXCL). Returns false when the file already existed.
 */
export async function publishFileExclusive(target: string, data: Buffer, mode = 0o600): Promise<boolean> {
  const temp = await writeTempFile(target, data, mode);
  try {
    await link(temp, target);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
  await syncDirectory(dirname(target));
  return true;
}

/** Removes a file durably; a file that is already gone is not an error. */
export async function removeFileDurably(path: string): Promise<void> {
  await rm(path, { force: true });
  await syncDirectory(dirname(path));
}

function linkRefused(path: string, cause?: unknown): SecretError {
  return new SecretError(
    'backend_error',
    `file store path '${path}' is a symbolic link; the store never follows one: remove it`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Refuses a store with a symbolic link where `isRecord` says a record belongs. One read of the
 * directory, names and types only: records themselves are read when a caller asks for them.
 */
export async function refuseLinkedRecords(dir: string, isRecord: (name: string) => boolean): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isSymbolicLink() && isRecord(entry.name)) throw linkRefused(join(dir, entry.name));
  }
}

/** Names of the entries of `dir` that `accept` keeps. */
export async function listFileNames(dir: string, accept: (name: string) => boolean): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter(accept);
}

/**
 * Who writes a temp file, in its name: boot id (12 hex), pid namespace, pid and start time. After
 * a crash, start-up can then remove at once what a writer of this host and pid namespace left,
 * however young, while a live writer's file (another process sharing the store) stays.
 */
function writerMark(): string {
  const self = ownProcessIdentity();
  if (self === undefined) return '';
  return `${self.boot.replaceAll('-', '').slice(0, 12)}-${self.pidNamespace.replace(/\D/g, '')}-${self.pid}-${self.startTime}.`;
}

const MARKED_TEMP = /\.([0-9a-f]{12}-\d+)-(\d+)-(\d+)\.[0-9a-f]{12}\.tmp$/;

/** Whether a temp file was left by a writer of this host and pid namespace that runs no more. */
async function isLeftByDeadWriter(name: string): Promise<boolean> {
  const mark = MARKED_TEMP.exec(name);
  if (mark === null || !writerMark().startsWith(`${mark[1]}-`)) return false;
  return isProcessGone(Number(mark[2]), mark[3] as string);
}

/**
 * Deletes temp files that a crashed writer left behind. They hold ciphertext only, but they waste
 * space. A dead writer of this host's is known at once; any other file younger than `olderThanMs`
 * may belong to a live writer elsewhere and is left alone.
 */
export async function removeAbandonedTempFiles(dir: string, olderThanMs: number, nowMs: number): Promise<void> {
  const temps = await listFileNames(dir, (name) => name.startsWith('.') && name.endsWith(TEMP_SUFFIX));
  for (const name of temps) {
    const path = join(dir, name);
    try {
      const info = await stat(path);
      if (nowMs - info.mtimeMs > olderThanMs || (await isLeftByDeadWriter(name))) await rm(path, { force: true });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }
}

/** Throws unless `dir` is a directory this process can write to. */
export async function assertWritableDirectory(dir: string): Promise<void> {
  const info = await stat(dir);
  if (!info.isDirectory()) {
    throw new SecretError('backend_error', `file store path '${dir}' is not a directory`);
  }
  await access(dir, constants.W_OK | constants.X_OK);
}
