/**
 * What Vault's API documentation says KV version 2 does, checked over raw HTTP. It runs against the
 * double (test/vault/vault-double.test.ts) and against a real Vault (test/vault-real/), so the
 * double's fidelity is measured rather than assumed. Every check works under its own key prefix.
 */
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';

export interface VaultTarget {
  addr: string;
  token: string;
  /** A KV version 2 mount the checks may write to. */
  mount: string;
  /** Vault Enterprise namespace, sent as X-Vault-Namespace. */
  namespace?: string;
}

export interface Answer {
  status: number;
  body: Record<string, unknown> | undefined;
  headers: Headers;
}

export async function vaultCall(
  target: Pick<VaultTarget, 'addr' | 'token' | 'namespace'>,
  method: string,
  path: string,
  body?: unknown,
  token = target.token,
): Promise<Answer> {
  const res = await fetch(`${target.addr}/v1/${path}`, {
    method,
    headers: {
      'x-vault-token': token,
      ...(target.namespace ? { 'x-vault-namespace': target.namespace } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    headers: res.headers,
  };
}

/** Paths under a fresh prefix: `data('k')` is `<mount>/data/<prefix>/k`. */
function scope(target: VaultTarget) {
  const prefix = `contract-${randomBytes(4).toString('hex')}`;
  const at = (kind: string) => (key: string) => `${target.mount}/${kind}/${prefix}/${key}`;
  return {
    prefix,
    data: at('data'),
    metadata: at('metadata'),
    delete: at('delete'),
    undelete: at('undelete'),
    destroy: at('destroy'),
    call: (method: string, path: string, body?: unknown) => vaultCall(target, method, path, body),
  };
}

export async function kvContractChecks(t: Test, target: VaultTarget): Promise<void> {
  await t.test('KV v2: a missing secret is 404 with an empty errors list', async (t) => {
    const kv = scope(target);
    const data = await kv.call('GET', kv.data('missing'));
    const meta = await kv.call('GET', kv.metadata('missing'));
    const list = await kv.call('GET', `${kv.metadata('missing')}/?list=true`);
    t.same([data.status, data.body], [404, { errors: [] }]);
    t.same([meta.status, meta.body], [404, { errors: [] }]);
    t.same([list.status, list.body], [404, { errors: [] }]);
  });

  await t.test('KV v2: cas 0 writes only a new key; a wrong cas is a 400 naming the mismatch', async (t) => {
    const kv = scope(target);
    const first = await kv.call('POST', kv.data('k'), { options: { cas: 0 }, data: { v: '1' } });
    const again = await kv.call('POST', kv.data('k'), { options: { cas: 0 }, data: { v: '2' } });
    const right = await kv.call('POST', kv.data('k'), { options: { cas: 1 }, data: { v: '2' } });
    t.equal(first.status, 200);
    t.match(first.body, { data: { version: 1, destroyed: false, deletion_time: '' } });
    t.same(
      [again.status, again.body],
      [400, { errors: ['check-and-set parameter did not match the current version'] }],
    );
    t.match(right.body, { data: { version: 2 } });
  });

  await t.test(
    'KV v2: metadata without versions takes cas 0; destroyed versions need cas = current_version',
    async (t) => {
      const kv = scope(target);
      const created = await kv.call('POST', kv.metadata('pre'), { custom_metadata: { description: 'd' } });
      const meta = await kv.call('GET', kv.metadata('pre'));
      const write = await kv.call('POST', kv.data('pre'), { options: { cas: 0 }, data: { v: '1' } });
      await kv.call('POST', kv.destroy('pre'), { versions: [1] });
      const zero = await kv.call('POST', kv.data('pre'), { options: { cas: 0 }, data: { v: '2' } });
      const current = await kv.call('POST', kv.data('pre'), { options: { cas: 1 }, data: { v: '2' } });
      t.equal(created.status, 204);
      t.match(meta.body, { data: { current_version: 0, custom_metadata: { description: 'd' } } });
      t.equal(write.status, 200);
      t.equal(zero.status, 400);
      t.match(current.body, { data: { version: 2 } });
    },
  );

  await t.test('KV v2: cas_required refuses writes without cas', async (t) => {
    const kv = scope(target);
    await kv.call('POST', kv.metadata('strict'), { cas_required: true });
    const refused = await kv.call('POST', kv.data('strict'), { data: { v: '1' } });
    const accepted = await kv.call('POST', kv.data('strict'), { options: { cas: 0 }, data: { v: '1' } });
    t.equal(refused.status, 400);
    t.match(refused.body, { errors: [/check-and-set parameter required/] });
    t.equal(accepted.status, 200);
  });

  await t.test(
    'KV v2: a soft-deleted version is 404 with data null and its metadata; undelete restores it',
    async (t) => {
      const kv = scope(target);
      await kv.call('POST', kv.data('k'), { data: { v: '1' } });
      await kv.call('POST', kv.data('k'), { data: { v: '2' } });
      const deleted = await kv.call('POST', kv.delete('k'), { versions: [2] });
      const read = await kv.call('GET', kv.data('k'));
      const older = await kv.call('GET', `${kv.data('k')}?version=1`);
      await kv.call('POST', kv.undelete('k'), { versions: [2] });
      const restored = await kv.call('GET', kv.data('k'));
      t.equal(deleted.status, 204);
      t.equal(read.status, 404);
      t.match(read.body, {
        data: { data: null, metadata: { version: 2, destroyed: false, deletion_time: /^\d{4}-/ } },
      });
      t.match(older.body, { data: { data: { v: '1' } } });
      t.match(restored.body, { data: { data: { v: '2' }, metadata: { deletion_time: '' } } });
    },
  );

  await t.test('KV v2: destroy, DELETE data, metadata versions, max_versions and DELETE metadata', async (t) => {
    const kv = scope(target);
    for (const v of ['1', '2', '3']) await kv.call('POST', kv.data('k'), { data: { v } });
    await kv.call('POST', kv.destroy('k'), { versions: [1] });
    await kv.call('DELETE', kv.data('k'));
    await kv.call('POST', kv.metadata('k'), { max_versions: 2, custom_metadata: { owner: 'me' } });
    await kv.call('POST', kv.data('k'), { data: { v: '4' } });
    const meta = await kv.call('GET', kv.metadata('k'));
    const removed = await kv.call('DELETE', kv.metadata('k'));
    const gone = await kv.call('GET', kv.metadata('k'));
    t.match(meta.body, {
      data: {
        current_version: 4,
        max_versions: 2,
        custom_metadata: { owner: 'me' },
        versions: { 3: { deletion_time: /^\d{4}-/, destroyed: false }, 4: { deletion_time: '' } },
      },
    });
    const versions = (meta.body as { data: { versions: object } }).data.versions;
    t.same(Object.keys(versions).sort(), ['3', '4'], 'versions beyond max_versions are pruned');
    t.equal(removed.status, 204);
    t.equal(gone.status, 404);
  });

  await t.test('KV v2: custom_metadata over the documented limits is a 400', async (t) => {
    const kv = scope(target);
    const longValue = await kv.call('POST', kv.metadata('k'), { custom_metadata: { a: 'x'.repeat(513) } });
    const emptyValue = await kv.call('POST', kv.metadata('k'), { custom_metadata: { a: '' } });
    const tooMany = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const manyKeys = await kv.call('POST', kv.metadata('k'), { custom_metadata: tooMany });
    t.same([longValue.status, emptyValue.status, manyKeys.status], [400, 400, 400]);
  });

  await t.test('KV v2: LIST and GET ?list=true answer one folder level, folders with a trailing slash', async (t) => {
    const kv = scope(target);
    for (const key of ['foo', 'foo/bar', 'foo/baz/qux', 'zed'])
      await kv.call('POST', kv.data(key), { data: { v: '1' } });
    const root = await kv.call('LIST', `${target.mount}/metadata/${kv.prefix}/`);
    const foo = await kv.call('GET', `${kv.metadata('foo')}?list=true`);
    t.match(root.body, { data: { keys: ['foo', 'foo/', 'zed'] } });
    t.match(foo.body, { data: { keys: ['bar', 'baz/'] } });
    t.equal((root.body as { data: { keys: unknown[] } }).data.keys.length, 3, 'no other names');
  });
}
