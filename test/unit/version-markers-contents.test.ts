/**
 * The version markers' check for network volumes (EFS): each scan reads every followed marker, so
 * a change shows whatever `stat` says, and a marker whose text did not change reports nothing.
 * Scans are driven by hand here: "seen at the next scan" means seen by the very next call.
 */
import { mkdtemp, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { markerCheckFor } from '../../agent/broker/marker-sightings.js';
import { markerName, VersionMarkers } from '../../agent/broker/version-markers.js';

/** A whole second, so that an mtime set back with utimes compares equal to the bit. */
const OLD_MTIME_S = Math.floor(Date.now() / 1000) - 1;

interface Report {
  id: string;
  version: string | undefined;
}

/** Markers read by contents in a fresh lock directory, following `app/db`, with every report kept. */
async function followed(t: Test) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-marker-contents-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const markers = new VersionMarkers(dir, { check: 'contents' });
  const reports: Report[] = [];
  markers.onChange((id, version) => reports.push({ id, version }));
  markers.track('app/db');
  const file = path.join(dir, markerName('app/db'));
  const scan = async () => markers.scan(await readdir(dir));
  return { dir, markers, reports, file, scan };
}

t.test('a marker rewritten in place with its old inode, size and mtime is seen at the next scan', async (t) => {
  // Prepare: a marker seen once, with a whole-second mtime
  const { markers, reports, file, scan } = await followed(t);
  await markers.write('app/db', '7');
  await utimes(file, OLD_MTIME_S, OLD_MTIME_S);
  await scan();
  reports.length = 0;
  const before = await stat(file);

  // Act: the text changes in place (same inode), the mtime is set back
  await writeFile(file, '8');
  await utimes(file, OLD_MTIME_S, OLD_MTIME_S);
  const after = await stat(file);
  await scan();

  // Assess
  t.same([after.ino, after.size, after.mtimeMs], [before.ino, before.size, before.mtimeMs], 'stat sees no change');
  t.same(reports, [{ id: 'app/db', version: '8' }], 'the scan reports the new version');
});

t.test('nothing is reported while a marker’s text stays the same, whatever happens to its file', async (t) => {
  // Prepare
  const { dir, markers, reports, file, scan } = await followed(t);
  await markers.write('app/db', '7');
  await scan();
  t.same(reports, [{ id: 'app/db', version: '7' }], 'a marker written since the id was followed is reported');
  reports.length = 0;

  // Act: a new mtime, then a new inode with the same text, each followed by a scan
  await utimes(file, OLD_MTIME_S, OLD_MTIME_S);
  await scan();
  const copy = path.join(dir, 'copy');
  await writeFile(copy, '7');
  await rename(copy, file);
  await scan();
  await scan();

  // Assess
  t.same(reports, [], 'no report');
});

t.test('a marker removed and put back is reported when its version differs, not when it is the same', async (t) => {
  // Prepare
  const { markers, reports, file, scan } = await followed(t);
  await markers.write('app/db', '7');
  await scan();
  reports.length = 0;

  // Act
  await rm(file);
  await scan();
  const whileGone = reports.length;
  await markers.write('app/db', '7');
  await scan();
  const putBackSame = reports.length;
  await rm(file);
  await scan();
  await markers.write('app/db', '9');
  await scan();

  // Assess
  t.equal(whileGone, 0, 'a missing marker says nothing (a delete writes an empty one)');
  t.equal(putBackSame, 0, 'put back with the version last seen: nothing changed');
  t.same(reports, [{ id: 'app/db', version: '9' }], 'put back with another version: reported');
});

t.test('an emptied marker reports the id deleted', async (t) => {
  // Prepare
  const { markers, reports, scan } = await followed(t);
  await markers.write('app/db', '7');
  await scan();
  reports.length = 0;

  // Act
  await markers.write('app/db', undefined);
  await scan();

  // Assess
  t.same(reports, [{ id: 'app/db', version: undefined }]);
});

t.test('a marker much older than the id’s following is taken as already seen, in either check', async (t) => {
  for (const check of ['contents', 'attributes'] as const) {
    // Prepare: a marker from long before the broker cared about the id
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-marker-contents-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, markerName('app/db'));
    await writeFile(file, '3');
    await utimes(file, OLD_MTIME_S - 60, OLD_MTIME_S - 60);
    const markers = new VersionMarkers(dir, { check });
    const reports: string[] = [];
    markers.onChange((_id, version) => reports.push(String(version)));
    markers.track('app/db');

    // Act
    await markers.scan(await readdir(dir));
    await markers.write('app/db', '4');
    await markers.scan(await readdir(dir));

    // Assess
    t.same(reports, ['4'], `${check}: only the write made since is reported`);
  }
});

t.test('a missing lock directory gets the contents check, which is right on any volume', async (t) => {
  t.equal(await markerCheckFor(path.join(os.tmpdir(), 'sb-no-such-dir', 'locks')), 'contents');
});

t.test('a Linux temp directory (ext4, XFS, Btrfs, tmpfs or overlayfs) gets the stat check', async (t) => {
  if (process.platform !== 'linux') return t.comment(`not Linux (${process.platform}): nothing to compare`);
  t.equal(await markerCheckFor(os.tmpdir()), 'attributes');
});
