/**
 * The file store on a 2 MiB tmpfs, filled by a broker's own writes until one fails: the failure is
 * a clean problem+json error, everything written before stays readable as acknowledged, no temp
 * file is left, and writes work again once space is freed.
 */
import { randomBytes } from 'node:crypto';
import { rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { type Response, request, type Target } from '../helpers/http-client.js';
import { fileStoreEnv, restartableBroker, tempDirForTest, tempFilesIn } from '../helpers/restartable-broker.js';
import { smallTmpfsForTest } from '../helpers/small-tmpfs.js';

const TMPFS_BYTES = 2 * 1024 * 1024;
/** Room left beside the filler file: a few records of BULK_VALUE_BYTES fit, then the disk is full. */
const ROOM_BYTES = 320 * 1024;
/** Random bytes per bulk value (base64 makes it 4/3 of that, under the 64 KiB value limit). */
const BULK_VALUE_BYTES = 36 * 1024;
/** More bulk writes than ROOM_BYTES can hold: reaching this bound means the disk never filled. */
const MAX_BULK_WRITES = 40;

const mountPoint = await smallTmpfsForTest(t, TMPFS_BYTES);

if (mountPoint) {
  t.test('a full store disk fails writes cleanly, keeps every secret, and recovers once space is freed', async (t) => {
    // Prepare: a broker whose store lives on the tmpfs, a few secrets written twice, and a filler file
    const dir = await tempDirForTest(t, 'sb-disk-full-');
    const storeDir = path.join(mountPoint, 'store');
    const broker = restartableBroker(t, {
      name: 'broker',
      dir,
      lockDir: path.join(dir, 'locks'),
      backendEnv: fileStoreEnv(storeDir),
    });
    await broker.start();
    const api = apiOf(broker.target, broker.token());
    const acknowledged = new Map<string, string>();
    for (let i = 0; i < 5; i += 1) {
      const id = `earlier/secret-${i}`;
      const created = await api('POST', '/secrets', { body: { id, value: `first-${i}` } });
      const updated = await api('PUT', `/secrets/${id}`, {
        body: { value: `second-${i}` },
        headers: { 'if-match': String(created.headers.etag) },
      });
      if (updated.status === 200) acknowledged.set(id, `second-${i}`);
    }
    const filler = path.join(mountPoint, 'filler');
    await writeFile(filler, Buffer.alloc(Math.max(0, (await freeBytes(mountPoint)) - ROOM_BYTES)));

    // Act: write until the disk is full, then try to grow a secret that was there before
    let failed: Response | undefined;
    for (let i = 0; i < MAX_BULK_WRITES && !failed; i += 1) {
      const id = `bulk/secret-${i}`;
      const value = randomBytes(BULK_VALUE_BYTES).toString('base64');
      const created = await api('POST', '/secrets', { body: { id, value } });
      if (created.status === 201) acknowledged.set(id, value);
      else failed = created;
    }
    const grown = await api('PUT', '/secrets/earlier/secret-0', {
      body: { value: randomBytes(BULK_VALUE_BYTES).toString('base64') },
    });
    const readsWhileFull = await readAll(api, acknowledged);
    const tempFilesWhileFull = await tempFilesIn(storeDir);
    await rm(filler);
    const putAfterFreeing = await api('PUT', '/secrets/earlier/secret-1', { body: { value: 'after-freeing' } });
    const createAfterFreeing = await api('POST', '/secrets', { body: { id: 'after/freeing', value: 'new' } });
    const readAfterFreeing = await api('GET', '/secrets/earlier/secret-1', {
      headers: { 'cache-control': 'no-cache' },
    });

    // Assess
    t.ok(acknowledged.size > 5, `some bulk writes fit before the disk filled (${acknowledged.size - 5})`);
    t.ok(failed, 'a write failed once the disk was full');
    for (const answer of [failed, grown]) {
      t.equal(answer?.status, 503, 'the failed write answers 503');
      t.match(answer?.headers['content-type'], /^application\/problem\+json/, 'as problem+json');
      t.match(answer?.json(), { status: 503, code: 'backend_unavailable' }, 'with a stable code');
      t.ok(answer?.headers['retry-after'], 'and Retry-After');
    }
    t.same(readsWhileFull, Object.fromEntries(acknowledged), 'every secret reads back its last acknowledged value');
    t.same(tempFilesWhileFull, [], 'no temp file is left by the failed writes');
    t.equal(putAfterFreeing.status, 200, 'an update works once space is freed');
    t.equal(createAfterFreeing.status, 201, 'a create works once space is freed');
    t.equal(readAfterFreeing.json().value, 'after-freeing', 'and reads back what it wrote');
    t.same(await tempFilesIn(storeDir), [], 'no temp file at the end');
    if (!t.passing()) t.comment(broker.output());
  });
}

type Api = (method: string, url: string, options?: Parameters<typeof request>[3]) => Promise<Response>;

function apiOf(target: Target, token: string): Api {
  return (method, url, options = {}) => request(target, method, url, { token, ...options });
}

/** Each secret's value as read from the store (around the cache), or its status if the read failed. */
async function readAll(api: Api, secrets: Map<string, string>): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const id of secrets.keys()) {
    const read = await api('GET', `/secrets/${id}`, { headers: { 'cache-control': 'no-cache' } });
    values[id] = read.status === 200 ? read.json().value : `status ${read.status}`;
  }
  return values;
}

async function freeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}
