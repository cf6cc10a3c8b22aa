/**
 * How the lock volume's scan looks at one version marker, and which way suits the volume.
 *
 * On NFS (EFS) `stat` may be answered from the client's attribute cache (3 s to 60 s by default),
 * so a marker another host replaced can keep its old inode and mtime for that long. Opening a file
 * is different: under close-to-open consistency the client revalidates it with the server at
 * `open`, and a read after that open sees every write the other host closed. So on a network
 * volume each scan opens and reads every followed marker, and another host's write shows at the
 * next scan. On a local file system `stat` is exact and the writer's rename always makes a new
 * inode, so there the scan keeps to `stat`, several times cheaper than open, read and close.
 */
import { open, stat, statfs } from 'node:fs/promises';

/** `contents`: open and read each followed marker every scan; `attributes`: compare inode and mtime. */
export type MarkerCheck = 'contents' | 'attributes';

/** What one look at a marker found. */
export interface Sighting {
  /** Compared with the previous look's: a difference is a change. */
  signature: string;
  /** The marker's text, when the look read it. */
  text?: string;
  /** Its modification time, when the look asked for it. */
  mtimeMs?: number;
}

/**
 * statfs(2) magic numbers of local file systems, where `stat` answers from the disk itself:
 * ext2/3/4, XFS, Btrfs, tmpfs, overlayfs, ZFS, F2FS. Anything else (NFS, SMB, FUSE, unknown) is
 * treated as a network volume, whose answer is always right, only costlier.
 */
const LOCAL_FILE_SYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x794c7630, 0x2fc12fc1, 0xf2f52010]);

/** The check that suits the file system holding `dir`; `contents` when it cannot be told. */
export async function markerCheckFor(dir: string): Promise<MarkerCheck> {
  try {
    const { type } = await statfs(dir);
    return LOCAL_FILE_SYSTEMS.has(type) ? 'attributes' : 'contents';
  } catch {
    return 'contents';
  }
}

/** Inode and mtime from `stat`; undefined when the marker is gone. */
export async function sightAttributes(file: string): Promise<Sighting | undefined> {
  try {
    const info = await stat(file);
    // A rename makes a new inode: a rewrite within one mtime tick still shows.
    return { signature: `${info.ino}:${info.mtimeMs}`, mtimeMs: info.mtimeMs };
  } catch {
    return undefined;
  }
}

/**
 * The marker's text through open, read and close (one open per look, whatever the attribute cache
 * holds); its mtime too when `withMtime`, from the file just opened. Undefined when the marker is
 * gone or unreadable.
 */
export async function sightContents(file: string, withMtime: boolean): Promise<Sighting | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const text = await handle.readFile({ encoding: 'utf8' });
    if (!withMtime) return { signature: text, text };
    return { signature: text, text, mtimeMs: (await handle.stat()).mtimeMs };
  } catch {
    return undefined;
  } finally {
    await handle.close().catch(() => undefined);
  }
}
