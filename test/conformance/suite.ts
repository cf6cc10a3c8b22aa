/**
 * The one conformance suite: every row of the API and status tables of docs/api.md, driven through the
 * real broker and HTTP app over a backend. Every backend's test file calls `runConformanceSuite`,
 * so all backends answer the same way. Ids carry a per-run prefix, so a shared backend (a moto or
 * Vault server) can serve several runs.
 */
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import type { SecretBackend } from '../../agent/backends/contract.js';
import { buildTestApp, type TestApp } from '../helpers/broker-app.js';
import { clientRows } from './client-rows.js';
import { GatedReads } from './gated-reads.js';
import { batchGetRows, conditionalReadRows, restoreRows } from './live-rows.js';
import { WATCH_POLL_MS, watchRows } from './watch-rows.js';

export interface BackendUnderTest {
  backend: SecretBackend;
  cleanup(): Promise<void>;
}

const json = (res: { body: string }) => JSON.parse(res.body);

export function runConformanceSuite(t: Test, name: string, make: () => Promise<BackendUnderTest>): void {
  t.test(`${name} backend conformance`, async (t) => {
    const under = await make();
    const gated = new GatedReads(under.backend);
    const api = await buildTestApp(gated, { watch: { pollIntervalMs: WATCH_POLL_MS } });
    t.teardown(async () => {
      await api.close();
      await under.cleanup();
    });
    const prefix = `conf-${randomBytes(4).toString('hex')}`;
    const values = new Set<string>();
    const secretValue = (label: string) => {
      const v = `${label}-${randomBytes(8).toString('hex')}`;
      values.add(v);
      return v;
    };

    await t.test('create, read and replace', (t) => crudRows(t, api, prefix, secretValue));
    await t.test('preconditions and versions', (t) => preconditionRows(t, api, prefix, secretValue));
    await t.test('a malformed If-Match or If-None-Match writes nothing', (t) =>
      malformedPreconditionRows(t, api, prefix, secretValue),
    );
    await t.test('a no-cache read answers what the backend held after it arrived', (t) =>
      freshnessRows(t, api, gated, prefix, secretValue),
    );
    await t.test('validation and limits lose nothing', (t) => validationRows(t, api, prefix, secretValue));
    await t.test('delete semantics', (t) => deleteRows(t, api, prefix, secretValue));
    await t.test('restore cancels a recoverable delete', (t) => restoreRows(t, api, prefix, secretValue));
    await t.test('If-None-Match answers 304 for the current version', (t) =>
      conditionalReadRows(t, api, gated, prefix, secretValue),
    );
    await t.test('a watch answers when the version moves, or 304 when the wait is over', (t) =>
      watchRows(t, api, gated, prefix, secretValue),
    );
    await t.test('a batch read answers each id on its own', (t) => batchGetRows(t, api, gated, prefix, secretValue));
    await t.test('listing', (t) => listRows(t, api, prefix, secretValue));
    await t.test('the Node client reads, writes, lists, watches and restores', (t) =>
      clientRows(t, api, prefix, secretValue),
    );
    await t.test('callers and operations', (t) => callerRows(t, api));
    await t.test('concurrent conditional writes: exactly one wins', (t) => raceRows(t, api, prefix, secretValue));
    await t.test('no value leaks into logs or metrics', async (t) => {
      const metrics = await api.call({ method: 'GET', url: '/metrics' });
      const logs = api.logText();
      for (const value of values) {
        t.notOk(logs.includes(value), 'value absent from logs');
        t.notOk(metrics.body.includes(value), 'value absent from metrics');
      }
      t.ok(values.size > 5, 'the suite used several values');
    });
  });
}

type ValueMaker = (label: string) => string;

async function crudRows(t: Test, api: TestApp, prefix: string, secretValue: ValueMaker) {
  // Prepare
  const id = `${prefix}/db/password`;
  const value = secretValue('crud');
  // Act
  const created = await api.call({
    method: 'POST',
    url: '/secrets',
    body: { id, value, description: 'db password', tags: { team: 'core' } },
  });
  // Assess
  t.equal(created.statusCode, 201, 'POST answers 201');
  t.equal(created.headers.location, `/secrets/${id}`, 'Location names the secret');
  const createdBody = json(created);
  t.notOk('value' in createdBody, 'create response has no value');
  t.equal(created.headers.etag, `"${createdBody.version}"`, 'ETag is the quoted version');

  const read = await api.call({ method: 'GET', url: `/secrets/${id}` });
  t.equal(read.statusCode, 200);
  t.match(json(read), { id, value, version: createdBody.version, encoding: 'utf8', locked: false });
  t.match(json(read), { description: 'db password', tags: { team: 'core' } }, 'description and tags kept');
  t.equal(read.headers.etag, created.headers.etag);
  t.match(read.headers['x-cache'], /^(hit|miss)$/);
  t.match(read.headers.age, /^\d+$/);

  const encoded = await api.call({
    method: 'GET',
    url: `/secrets/${encodeURIComponent(id)}`,
    headers: { 'cache-control': 'no-cache' },
  });
  t.equal(json(encoded).value, value, '%2F-encoded id names the same secret');
  t.equal(encoded.headers['x-cache'], 'miss', 'no-cache bypasses the cache');

  const next = secretValue('crud2');
  const replaced = await api.call({ method: 'PUT', url: `/secrets/${id}`, body: { value: next } });
  t.equal(replaced.statusCode, 200, 'PUT answers 200');
  t.notOk('value' in json(replaced), 'PUT response has no value');
  t.not(json(replaced).version, createdBody.version, 'PUT makes a new version');
  const afterPut = json(
    await api.call({ method: 'GET', url: `/secrets/${id}`, headers: { 'cache-control': 'no-cache' } }),
  );
  t.equal(afterPut.value, next, 'read sees the new value');
  t.equal(afterPut.description, 'db password', 'PUT without description keeps it');

  const missing = await api.call({ method: 'GET', url: `/secrets/${prefix}/nope` });
  t.equal(missing.statusCode, 404);
  t.match(missing.headers['content-type'], /^application\/problem\+json/);
  t.match(json(missing), { status: 404, code: 'not_found', type: String, title: String, requestId: String });

  const putMissing = await api.call({ method: 'PUT', url: `/secrets/${prefix}/nope`, body: { value: 'x' } });
  t.equal(putMissing.statusCode, 404, 'PUT on a missing id is 404 (create is POST)');

  const again = await api.call({ method: 'POST', url: '/secrets', body: { id, value: 'other' } });
  t.equal(again.statusCode, 409);
  t.equal(json(again).code, 'already_exists');

  const binary = randomBytes(300).toString('base64');
  const binId = `${prefix}/bin`;
  const binCreated = await api.call({
    method: 'POST',
    url: '/secrets',
    body: { id: binId, value: binary, encoding: 'base64' },
  });
  t.equal(binCreated.statusCode, 201, 'binary create');
  const binRead = json(
    await api.call({ method: 'GET', url: `/secrets/${binId}`, headers: { 'cache-control': 'no-cache' } }),
  );
  t.equal(binRead.value, binary, 'binary round-trips');
  t.equal(binRead.encoding, 'base64');
}

async function preconditionRows(t: Test, api: TestApp, prefix: string, secretValue: ValueMaker) {
  const id = `${prefix}/pre`;
  const v1 = secretValue('v1');
  const created = await api.call({ method: 'POST', url: '/secrets', body: { id, value: v1 } });
  const etag1 = created.headers.etag as string;

  const v2 = secretValue('v2');
  const ok = await api.call({
    method: 'PUT',
    url: `/secrets/${id}`,
    body: { value: v2 },
    headers: { 'if-match': etag1 },
  });
  t.equal(ok.statusCode, 200, 'If-Match with the current version succeeds');
  const etag2 = ok.headers.etag as string;

  const stale = await api.call({
    method: 'PUT',
    url: `/secrets/${id}`,
    body: { value: 'lost' },
    headers: { 'if-match': etag1 },
  });
  t.equal(stale.statusCode, 412, 'If-Match with an old version is 412');
  t.equal(json(stale).code, 'precondition_failed');
  const current = json(
    await api.call({ method: 'GET', url: `/secrets/${id}`, headers: { 'cache-control': 'no-cache' } }),
  );
  t.equal(current.value, v2, 'a failed conditional write leaves the value intact');

  const old = await api.call({ method: 'GET', url: `/secrets/${id}?version=${encodeURIComponent(JSON.parse(etag1))}` });
  t.equal(old.statusCode, 200, 'the previous version stays readable');
  t.equal(json(old).value, v1);

  const unknown = await api.call({ method: 'GET', url: `/secrets/${id}?version=does-not-exist-0` });
  t.equal(unknown.statusCode, 404, 'an unknown version is 404');

  const badDelete = await api.call({ method: 'DELETE', url: `/secrets/${id}`, headers: { 'if-match': etag1 } });
  t.equal(badDelete.statusCode, 412, 'DELETE with an old If-Match is 412');
  const goodDelete = await api.call({
    method: 'DELETE',
    url: `/secrets/${id}?force=true`,
    headers: { 'if-match': etag2 },
  });
  t.equal(goodDelete.statusCode, 204, 'DELETE with the current If-Match succeeds');
}

/**
 * A plain GET's backend read is in flight (it read the old version, its answer is slow), then the
 * secret is written behind the broker's back, then a no-cache GET arrives: it must not join the
 * older read, and its newer answer is what the cache serves from then on.
 */
async function freshnessRows(t: Test, api: TestApp, gated: GatedReads, prefix: string, secretValue: ValueMaker) {
  // Prepare
  const id = `${prefix}/fresh`;
  const url = `/secrets/${id}`;
  // Created behind the broker's back, so that the plain GET below misses the cache and reads the backend.
  await gated.inner.create({ id, value: secretValue('old'), encoding: 'utf8' });
  const held = gated.holdNextRead();
  const plain = api.call({ method: 'GET', url });
  await held.read;
  const newer = secretValue('newer');
  await gated.inner.put(id, { value: newer, encoding: 'utf8' });

  // Act
  const noCache = api.call({ method: 'GET', url, headers: { 'cache-control': 'no-cache' } });
  // Let the no-cache read reach the backend (or, were it to join the held read, give it the time to).
  for (let turn = 0; turn < 50 && gated.readsStarted < 2; turn++) await new Promise((r) => setTimeout(r, 5));
  held.release();
  const [plainAnswer, noCacheAnswer] = await Promise.all([plain, noCache]);
  const later = await api.call({ method: 'GET', url });

  // Assess
  t.equal(json(noCacheAnswer).value, newer, 'the no-cache GET answers the newer version');
  t.not(json(plainAnswer).value, newer, 'the held read answered the version it read');
  t.equal(later.headers['x-cache'], 'hit');
  t.equal(json(later).value, newer, 'and the cache keeps the newer one');
}

/** Anything but one quoted version or `*` is refused before a write: `""` once made writes unconditional. */
async function malformedPreconditionRows(t: Test, api: TestApp, prefix: string, secretValue: ValueMaker) {
  // Prepare
  const id = `${prefix}/malformed-precondition`;
  const kept = secretValue('kept');
  const created = await api.call({ method: 'POST', url: '/secrets', body: { id, value: kept } });
  const url = `/secrets/${id}`;
  for (const header of ['if-match', 'if-none-match']) {
    for (const bad of ['""', '', 'v1', '"a"b"', 'W/""', '"1", "2"']) {
      // Act
      const put = await api.call({ method: 'PUT', url, body: { value: 'must-not-land' }, headers: { [header]: bad } });
      const del = await api.call({ method: 'DELETE', url: `${url}?force=true`, headers: { [header]: bad } });

      // Assess
      t.equal(put.statusCode, 400, `PUT with ${header}: ${bad} is 400`);
      t.equal(json(put).code, 'invalid_request');
      t.equal(del.statusCode, 400, `DELETE with ${header}: ${bad} is 400`);
      t.equal(json(del).code, 'invalid_request');
    }
  }
  const badRead = await api.call({ method: 'GET', url, headers: { 'if-none-match': '""' } });
  t.equal(badRead.statusCode, 400, 'a GET with If-None-Match: "" is 400 too');
  const after = await api.call({ method: 'GET', url, headers: { 'cache-control': 'no-cache' } });
  t.equal(after.statusCode, 200, 'the secret is still there');
  t.equal(json(after).value, kept, 'and still holds its value');
  t.equal(after.headers.etag, created.headers.etag, 'at the version it had');
}

async function validationRows(t: Test, api: TestApp, prefix: string, secretValue: ValueMaker) {
  const id = `${prefix}/limits`;
  const value = secretValue('keep');
  await api.call({ method: 'POST', url: '/secrets', body: { id, value } });

  for (const badId of ['', '/lead', 'trail/', 'a//b', 'a/./b', 'a/../b', 'spa ce', 'x'.repeat(513), 'semi;colon']) {
    const res = await api.call({ method: 'POST', url: '/secrets', body: { id: badId, value: 'x' } });
    t.equal(res.statusCode, 400, `id ${JSON.stringify(badId.slice(0, 20))} is refused`);
    t.equal(json(res).code, 'invalid_id');
  }
  const badPath = await api.call({ method: 'GET', url: '/secrets/a%2F%2Fb' });
  t.equal(json(badPath).code, 'invalid_id', 'ids in paths are checked too');

  const big = await api.call({ method: 'PUT', url: `/secrets/${id}`, body: { value: 'x'.repeat(65_537) } });
  t.equal(big.statusCode, 413, 'a value over 64 KiB is 413');
  t.equal(json(big).code, 'payload_too_large');
  const huge = await api.call({ method: 'PUT', url: `/secrets/${id}`, body: { value: 'x'.repeat(140_000) } });
  t.equal(huge.statusCode, 413, 'a body over 128 KiB is 413');
  const bad64 = await api.call({
    method: 'PUT',
    url: `/secrets/${id}`,
    body: { value: 'not base64!', encoding: 'base64' },
  });
  t.equal(bad64.statusCode, 400, 'invalid base64 is 400');
  const extra = await api.call({ method: 'PUT', url: `/secrets/${id}`, body: { value: 'x', colour: 'red' } });
  t.equal(json(extra).code, 'invalid_request', 'unknown body fields are refused');
  const noValue = await api.call({ method: 'POST', url: '/secrets', body: { id: `${prefix}/novalue` } });
  t.equal(json(noValue).code, 'invalid_request', 'a missing value is refused');
  const notJson = await api.call({
    method: 'POST',
    url: '/secrets',
    body: '{"id": broken',
    headers: { 'content-type': 'application/json' },
  });
  t.equal(json(notJson).code, 'invalid_request', 'malformed JSON is refused');
  const proto = await api.call({
    method: 'PUT',
    url: `/secrets/${id}`,
    body: '{"value":"x","__proto__":{"a":1}}',
    headers: { 'content-type': 'application/json' },
  });
  t.equal(json(proto).detail, 'body must not contain the key __proto__', 'a __proto__ key is refused by name');
  const manyTags = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
  const tagLimits: Record<string, Record<string, string>> = {
    '51 tags': manyTags,
    'an empty tag key': { '': 'v' },
    'a 129-character tag key': { ['k'.repeat(129)]: 'v' },
    'a 257-character tag value': { k: 'v'.repeat(257) },
  };
  for (const [why, tags] of Object.entries(tagLimits)) {
    const res = await api.call({ method: 'PUT', url: `/secrets/${id}`, body: { value: 'x', tags } });
    t.equal(json(res).code, 'invalid_request', `${why} is refused`);
  }
  const badEncoding = await api.call({ method: 'GET', url: `/secrets/${id}%ZZ` });
  t.equal(json(badEncoding).code, 'invalid_request', 'a malformed percent-encoding is 400 problem+json');
  const patch = await api.call({ method: 'PATCH', url: `/secrets/${id}`, body: { value: 'x' } });
  t.equal(patch.statusCode, 405, 'another method on a known path is 405');
  t.match(patch.headers.allow, /PUT/, 'Allow lists the methods the path has');

  const after = json(
    await api.call({ method: 'GET', url: `/secrets/${id}`, headers: { 'cache-control': 'no-cache' } }),
  );
  t.equal(after.value, value, 'no failed write changed the value');
  for (const res of [big, bad64, extra]) t.notOk(res.body.includes(value), 'errors carry no value');
}

async function deleteRows(t: Test, api: TestApp, prefix: string, secretValue: ValueMaker) {
  const id = `${prefix}/del`;
  await api.call({ method: 'POST', url: '/secrets', body: { id, value: secretValue('del') } });

  const soft = await api.call({ method: 'DELETE', url: `/secrets/${id}` });
  t.equal(soft.statusCode, 204, 'recoverable delete is 204');
  t.equal((await api.call({ method: 'GET', url: `/secrets/${id}` })).statusCode, 404, 'GET after delete is 404');
  t.equal(
    (await api.call({ method: 'PUT', url: `/secrets/${id}`, body: { value: 'x' } })).statusCode,
    404,
    'PUT is 404',
  );
  t.equal((await api.call({ method: 'DELETE', url: `/secrets/${id}` })).statusCode, 404, 'second DELETE is 404');
  const listed = json(
    await api.call({ method: 'GET', url: `/secrets?filter=${encodeURIComponent(`^${prefix}/del`)}` }),
  );
  t.same(listed.items, [], 'lists omit a deleted secret');
  const recreate = await api.call({ method: 'POST', url: '/secrets', body: { id, value: 'again' } });
  t.equal(recreate.statusCode, 409, 'create during the recovery window is 409');
  t.equal(json(recreate).code, 'pending_deletion');

  const force = await api.call({ method: 'DELETE', url: `/secrets/${id}?force=true` });
  t.equal(force.statusCode, 204, 'a forced delete reaches a pending one');
  const fresh = await api.call({ method: 'POST', url: '/secrets', body: { id, value: secretValue('fresh') } });
  t.equal(fresh.statusCode, 201, 'a forced delete frees the id');

  const forceMissing = await api.call({ method: 'DELETE', url: `/secrets/${prefix}/never?force=true` });
  t.equal(forceMissing.statusCode, 404, 'deleting a missing id is 404');
}

async function listRows(t: Test, api: TestApp, prefix: string, secretValue: ValueMaker) {
  const ids = ['app/a', 'app/b', 'app/c', 'db/x', 'db/y', 'other'].map((s) => `${prefix}/list/${s}`);
  for (const id of ids) await api.call({ method: 'POST', url: '/secrets', body: { id, value: secretValue('list') } });
  const base = `${prefix}/list/`;
  const list = async (query: string) => api.call({ method: 'GET', url: `/secrets?${query}` });

  const all = json(await list(`filter=${encodeURIComponent(`^${base}`)}&limit=1000`));
  t.same(all.items.map((i: { id: string }) => i.id).sort(), [...ids].sort(), 'anchored filter finds all');
  for (const item of all.items) {
    t.notOk('value' in item, 'list items carry no value');
    t.match(item, { id: String, version: String, locked: false });
  }

  const search = json(await list(`filter=${encodeURIComponent(`${prefix}/list/db/`)}`));
  t.same(search.items.map((i: { id: string }) => i.id).sort(), ids.slice(3, 5), 'unanchored filter searches');
  const alternation = json(await list(`filter=${encodeURIComponent(`^${base}(app/a|other)$`)}`));
  t.equal(alternation.items.length, 2, 'RE2 alternation and $ anchor');

  const seen: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10; pages++) {
    const page = json(
      await list(`filter=${encodeURIComponent(`^${base}`)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`),
    );
    t.ok(page.items.length <= 2, 'a page holds at most limit items');
    seen.push(...page.items.map((i: { id: string }) => i.id));
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  t.same(seen.sort(), [...ids].sort(), 'paging with the cursor returns every id exactly once');

  const invalid = await list(`filter=${encodeURIComponent('(unclosed')}`);
  t.equal(invalid.statusCode, 400);
  t.equal(json(invalid).code, 'invalid_filter');
  const backref = await list(`filter=${encodeURIComponent('(a)\\1')}`);
  t.equal(json(backref).code, 'invalid_filter', 'backreferences are not RE2');
  t.equal((await list('limit=0')).statusCode, 400, 'limit below 1 is refused');
  t.equal((await list('limit=1001')).statusCode, 400, 'limit above 1000 is refused');
  t.equal(json(await list('cursor=bogus')).code, 'invalid_request', 'a forged cursor is refused');
}

async function callerRows(t: Test, api: TestApp) {
  const anonymous = await api.app.inject({ method: 'GET', url: '/secrets' });
  t.equal(anonymous.statusCode, 401, 'no token is 401');
  t.equal(json(anonymous).code, 'unauthorized');
  const wrong = await api.app.inject({ method: 'GET', url: '/secrets', headers: { authorization: 'Bearer nope' } });
  t.equal(wrong.statusCode, 401, 'a wrong token is 401');
  const proxied = await api.call({ method: 'GET', url: '/secrets', headers: { 'x-forwarded-for': '10.0.0.1' } });
  t.equal(proxied.statusCode, 403, 'X-Forwarded-For is 403');
  t.equal(json(proxied).code, 'forbidden');
  t.equal((await api.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, '/healthz needs no token');
  t.equal((await api.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, '/readyz needs no token');
  t.equal((await api.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401, '/metrics needs the token');
  const metrics = await api.call({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, /secrets_broker_http_requests_total/, 'metrics are served');
  const openapi = await api.call({ method: 'GET', url: '/openapi.json' });
  t.equal(openapi.statusCode, 200);
  t.ok(json(openapi).paths['/secrets/{id}'], 'OpenAPI names the id parameter');
  const unknownRoute = await api.call({ method: 'GET', url: '/nothing-here' });
  t.equal(json(unknownRoute).code, 'not_found', 'unknown routes answer problem+json');
}

async function raceRows(t: Test, api: TestApp, prefix: string, secretValue: ValueMaker) {
  const id = `${prefix}/race`;
  const created = await api.call({ method: 'POST', url: '/secrets', body: { id, value: secretValue('race') } });
  const etag = created.headers.etag as string;
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      api.call({
        method: 'PUT',
        url: `/secrets/${id}`,
        body: { value: secretValue(`racer${i}`) },
        headers: { 'if-match': etag },
      }),
    ),
  );
  const statuses = results.map((r) => r.statusCode);
  t.equal(statuses.filter((s) => s === 200).length, 1, 'exactly one conditional PUT succeeds');
  t.ok(
    statuses.every((s) => s === 200 || s === 412 || s === 423),
    `the others are 412 or 423 (${[...new Set(statuses)].join(',')})`,
  );
  const winner = results.find((r) => r.statusCode === 200);
  const final = await api.call({ method: 'GET', url: `/secrets/${id}`, headers: { 'cache-control': 'no-cache' } });
  t.equal(final.headers.etag, winner?.headers.etag, 'the stored version is the winner’s');
}
