/**
 * Replaces a file so that a reader sees the old content or the new, never an empty or partial file:
 * the bytes go to a new temp file in the same directory (same file system, so the rename is
 * atomic), are synced, and the temp file is renamed over the target.
 *
 * Nothing here follows a symbolic link: the temp file is opened with O_EXCL | O_NOFOLLOW, and a
 * target that is a link is refused, so a link planted in a shared volume cannot redirect a write.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const TEMP_SUFFIX = /^\.[0-9a-f]{12}\.tmp$/;

/** A target the renderer refuses to write (a symbolic link, a directory): `code` says which. */
export class RenderTargetError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'RenderTargetError';
    this.code = code;
  }
}

/** Writes `bytes` to `target` with `mode` (umask aside), atomically; see the file comment. */
export async function replaceFile(target: string, bytes: Uint8Array, mode: number): Promise<void> {
  await refuseLinkOrDirectory(target);
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, CREATE_NEW, mode);
  try {
    // open() applies the umask; the mode asked for is the one the app's reader relies on.
    await handle.chmod(mode);
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    await rename(temp, target);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw err;
  }
}

/** Removes the temp files of `target` that a writer killed mid-write left behind. */
export async function removeLeftoverTemps(target: string): Promise<void> {
  const prefix = `.${path.basename(target)}`;
  const dir = path.dirname(target);
  const names = await readdir(dir).catch(() => [] as string[]);
  const leftovers = names.filter((n) => n.startsWith(prefix) && TEMP_SUFFIX.test(n.slice(prefix.length)));
  await Promise.all(leftovers.map((n) => rm(path.join(dir, n), { force: true })));
}

async function refuseLinkOrDirectory(target: string): Promise<void> {
  const info = await lstat(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (info?.isSymbolicLink()) {
    throw new RenderTargetError('ESYMLINK', `${target} is a symbolic link: the broker does not write through links`);
  }
  if (info?.isDirectory()) throw new RenderTargetError('EISDIR', `${target} is a directory`);
}
