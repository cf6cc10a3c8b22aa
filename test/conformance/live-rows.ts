/**
 * Conformance rows of the second-wave API: restore, conditional reads and batch reads. Every
 * backend runs them through the same suite (suite.ts).
 */
import type { Test } from 'tap';
import type { TestApp } from '../helpers/broker-app.js';
import type { GatedReads } from './gated-reads.js';

type ValueMaker = (label: string) => string;

const json = (res: { body: string }) => JSON.parse(res.body);

export async function restoreRows(t: Test, api: TestApp, prefix: string, secretValue: ValueMaker) {
  // Prepare
  const id = `${prefix}/restore/db`;
  const value = secretValue('restore');
  const created = await api.call({ method: 'POST', url: '/secrets', body: { id, value, description: 'kept' } });
  await api.call({ method: 'DELETE', url: `/secrets/${id}` });

  // Act
  const restored = await api.call({ method: 'POST', url: `/secrets/${id}:restore` });

  // Assess
  t.equal(restored.statusCode, 200, 'restoring a recoverably deleted secret is 200');
  const body = json(restored);
  t.notOk('value' in body, 'the answer carries no value');
  t.match(body, { id, version: json(created).version, description: 'kept' });
  t.equal(restored.headers.etag, created.headers.etag, 'it comes back at the version it had');
  const read = await api.call({ method: 'GET', url: `/secrets/${id}`, headers: { 'cache-control': 'no-cache' } });
  t.equal(read.statusCode, 200, 'a restored secret reads again');
  t.equal(json(read).value, value, 'with its value');
  const listed = json(await api.call({ method: 'GET', url: `/secrets?filter=${encodeURIComponent(`^${id}$`)}` }));
  t.same(
    listed.items.map((i: { id: string }) => i.id),
    [id],
    'and lists show it again',
  );

  const again = await api.call({ method: 'POST', url: `/secrets/${encodeURIComponent(id)}:restore` });
  t.equal(again.statusCode, 409, 'restoring a live secret is 409');
  t.equal(json(again).code, 'already_exists');
  const never = await api.call({ method: 'POST', url: `/secrets/${prefix}/restore/never:restore` });
  t.equal(never.statusCode, 404, 'restoring an id that never existed is 404');
  t.equal(json(never).code, 'not_found');
  await api.call({ method: 'DELETE', url: `/secrets/${id}?force=true` });
  const forced = await api.call({ method: 'POST', url: `/secrets/${id}:restore` });
  t.equal(forced.statusCode, 404, 'a forced delete leaves nothing to restore');

  const bogus = await api.call({ method: 'POST', url: `/secrets/${id}:bogus` });
  t.equal(bogus.statusCode, 400, 'an unknown method is 400');
  t.equal(json(bogus).code, 'invalid_request');
  t.match(bogus.headers['content-type'], /^application\/problem\+json/);
  const asId = await api.call({ method: 'GET', url: `/secrets/${id}:restore` });
  t.equal(json(asId).code, 'invalid_id', 'a GET never reads `a/b:restore` as an id');
}

/** If-None-Match on GET, including a write made behind the broker's back while the cache holds the old version. */
export async function conditionalReadRows(
  t: Test,
  api: TestApp,
  gated: GatedReads,
  prefix: string,
  secretValue: ValueMaker,
) {
  // Prepare
  const id = `${prefix}/conditional`;
  const url = `/secrets/${id}`;
  const created = await api.call({ method: 'POST', url: '/secrets', body: { id, value: secretValue('cond') } });
  const etag = created.headers.etag as string;

  // Act
  const same = await api.call({ method: 'GET', url, headers: { 'if-none-match': etag } });
  const any = await api.call({ method: 'GET', url, headers: { 'if-none-match': '*' } });
  const other = await api.call({ method: 'GET', url, headers: { 'if-none-match': '"not-this-one"' } });

  // Assess
  t.equal(same.statusCode, 304, 'the current version named is 304');
  t.equal(same.headers.etag, etag, 'with the ETag');
  t.equal(same.body, '', 'and no body');
  t.equal(same.headers['x-cache'], 'hit', 'answered from the cache, which the create filled');
  t.equal(any.statusCode, 304, '* matches an existing secret');
  t.equal(other.statusCode, 200, 'another version named is 200');
  t.equal(json(other).version, JSON.parse(etag));

  const newer = secretValue('behind');
  const written = await gated.inner.put(id, { value: newer, encoding: 'utf8' });
  const fresh = await api.call({
    method: 'GET',
    url,
    headers: { 'if-none-match': etag, 'cache-control': 'no-cache' },
  });
  t.equal(fresh.statusCode, 200, 'after a write behind the broker, a no-cache conditional read is 200');
  t.equal(json(fresh).value, newer, 'with the new value');
  t.equal(fresh.headers.etag, `"${written.version}"`, 'and its ETag');
  const settled = await api.call({ method: 'GET', url, headers: { 'if-none-match': fresh.headers.etag as string } });
  t.equal(settled.statusCode, 304, 'the new version named is 304');
  t.equal(settled.headers['x-cache'], 'hit', 'from the cache the no-cache read refreshed');

  const missing = await api.call({ method: 'GET', url: `${url}/none`, headers: { 'if-none-match': '*' } });
  t.equal(missing.statusCode, 404, '* on a missing secret is 404');
}

export async function batchGetRows(t: Test, api: TestApp, gated: GatedReads, prefix: string, secretValue: ValueMaker) {
  // Prepare
  const idOf = (name: string) => `${prefix}/batch/${name}`;
  const [a, b, behind, deleted, missing] = [idOf('a'), idOf('b'), idOf('behind'), idOf('deleted'), idOf('missing')];
  const values = { a: secretValue('batch-a'), b: secretValue('batch-b'), behind: secretValue('batch-behind') };
  await api.call({ method: 'POST', url: '/secrets', body: { id: a, value: values.a } });
  await api.call({ method: 'POST', url: '/secrets', body: { id: b, value: values.b, tags: { team: 'core' } } });
  await api.call({ method: 'POST', url: '/secrets', body: { id: deleted, value: secretValue('batch-deleted') } });
  await api.call({ method: 'DELETE', url: `/secrets/${deleted}` });
  // Created behind the broker's back, so the batch must read it from the backend.
  await gated.inner.create({ id: behind, value: values.behind, encoding: 'utf8' });

  // Act
  const res = await api.call({
    method: 'POST',
    url: '/secrets:batchGet',
    body: { ids: [missing, a, behind, deleted, b] },
  });

  // Assess
  t.equal(res.statusCode, 200, 'a batch with missing ids is still 200');
  const body = json(res);
  t.same(
    body.secrets.map((s: { id: string; value: string }) => [s.id, s.value]),
    [
      [a, values.a],
      [behind, values.behind],
      [b, values.b],
    ],
    'the ids read, with their values, in the order asked',
  );
  t.match(body.secrets[2], { locked: false, encoding: 'utf8', version: String, tags: { team: 'core' } });
  t.same(
    body.errors,
    [
      { id: missing, status: 404, code: 'not_found' },
      { id: deleted, status: 404, code: 'not_found' },
    ],
    'each id not read is an error item with its status and code',
  );
  const cached = await api.call({ method: 'GET', url: `/secrets/${behind}` });
  t.equal(cached.headers['x-cache'], 'hit', 'what the batch read from the backend fills the cache');

  const tooMany = Array.from({ length: 21 }, (_, i) => `${prefix}/batch/n${i}`);
  for (const [label, ids] of [
    ['21 ids', tooMany],
    ['no ids', []],
    ['a repeated id', [a, a]],
  ] as const) {
    const refused = await api.call({ method: 'POST', url: '/secrets:batchGet', body: { ids } });
    t.equal(refused.statusCode, 400, `${label} is 400`);
    t.equal(json(refused).code, 'invalid_request');
  }
  const badId = await api.call({ method: 'POST', url: '/secrets:batchGet', body: { ids: [a, 'a//b'] } });
  t.equal(json(badId).code, 'invalid_id', 'an invalid id refuses the whole batch');
}
