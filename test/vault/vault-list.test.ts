import { getEventListeners } from 'node:events';
import t from 'tap';
import type { SecretBackend } from '../../agent/backends/contract.js';
import { VAULT_MAX_SOCKETS } from '../../agent/backends/vault/transport.js';
import type { VaultDouble } from '../helpers/vault-double/index.js';
import { errorOf } from './outcome.js';
import { vaultFixture } from './vault-fixture.js';

const IDS = ['a', 'a-b', 'a/x', 'a/y/z', 'a0', 'b/c/d', 'b/e', 'prod/api', 'prod/db/password', 'prod/db/user', 'z'];

async function seed(backend: SecretBackend, ids: string[]): Promise<void> {
  for (const id of ids) await backend.create({ id, value: `value of ${id}`, encoding: 'utf8' });
}

/** Writes keys straight into the double's KV engine: faster than going through the broker. */
function seedDirectly(double: VaultDouble, count: number, prefix = 'bulk/'): string[] {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
  for (const id of ids) double.kv().writeData(id, { data: { value: 'v', encoding: 'utf8' } });
  return ids;
}

async function listAll(backend: SecretBackend, pageSize: number, prefix?: string): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await backend.listPage({ pageSize, ...(cursor ? { cursor } : {}), ...(prefix ? { prefix } : {}) });
    pages.push(page.items.map((item) => item.id));
    cursor = page.nextCursor;
  } while (cursor && pages.length < 50);
  return pages;
}

t.test('lists every id across folders in sorted order, page by page, without gaps or repeats', async (t) => {
  // Prepare
  const { backend } = await vaultFixture(t);
  await seed(backend, [...IDS].reverse());

  // Act
  const pages = await listAll(backend, 3);

  // Assess
  t.same(pages.flat(), [...IDS].sort());
  t.ok(
    pages.slice(0, -1).every((page) => page.length === 3),
    'every page but the last is full',
  );
});

t.test('list items carry metadata only, never the value', async (t) => {
  // Prepare
  const { backend } = await vaultFixture(t);
  await backend.create({ id: 'x', value: 'hidden', encoding: 'utf8', description: 'd', tags: { k: 'v' } });

  // Act
  const page = await backend.listPage({ pageSize: 10 });

  // Assess
  t.match(page.items, [{ id: 'x', version: '1', description: 'd', tags: { k: 'v' } }]);
  t.notOk('value' in (page.items[0] as object));
});

t.test('a prefix starts the walk at its folder and skips folders that cannot match', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await seed(backend, IDS);
  const listedBefore = double.requests.filter((r) => r.list).length;

  // Act
  const pages = await listAll(backend, 10, 'prod/d');

  // Assess
  t.same(pages.flat(), ['prod/db/password', 'prod/db/user']);
  const listed = double.requests
    .filter((r) => r.list)
    .slice(listedBefore)
    .map((r) => r.path);
  t.same(listed, ['secret/metadata/prod/', 'secret/metadata/prod/db/']);
});

t.test('a page after a cursor does not list the folders wholly before it', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await seed(backend, IDS);
  const first = await backend.listPage({ pageSize: 8 });
  const listedBefore = double.requests.filter((r) => r.list).length;

  // Act
  const second = await backend.listPage({ pageSize: 8, cursor: first.nextCursor as string });

  // Assess
  t.same(
    first.items.map((i) => i.id),
    IDS.slice(0, 8),
  );
  t.same(
    second.items.map((i) => i.id),
    IDS.slice(8),
  );
  t.notOk(second.nextCursor);
  const listed = double.requests
    .filter((r) => r.list)
    .slice(listedBefore)
    .map((r) => r.path);
  t.notOk(listed.includes('secret/metadata/a/'), 'folder a/ sorts wholly before the cursor');
  t.notOk(listed.includes('secret/metadata/b/'), 'folder b/ too');
});

t.test('soft-deleted and destroyed keys are left out of lists', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await seed(backend, ['keep/1', 'gone/soft', 'gone/burnt', 'keep/2']);
  await backend.delete('gone/soft', { force: false });
  double.kv().changeVersions('destroy', 'gone/burnt', { versions: [1] });

  // Act
  const pages = await listAll(backend, 1);

  // Assess
  t.same(pages.flat(), ['keep/1', 'keep/2']);
});

t.test('a walk that reaches listMaxKeys ends the page early with a cursor that resumes it', async (t) => {
  // Prepare
  const { backend: seeder, makeBackend } = await vaultFixture(t);
  await seed(seeder, IDS);
  const backend = makeBackend({ listMaxKeys: 4 });

  // Act
  const pages = await listAll(backend, 100);

  // Assess
  t.ok(pages.length > 1, 'more than one page was needed');
  t.same(pages.flat(), IDS);
});

t.test('an empty mount lists nothing, and an unknown cursor is invalid_request', async (t) => {
  // Prepare
  const { backend } = await vaultFixture(t);

  // Act
  const page = await backend.listPage({ pageSize: 10 });
  const error = await errorOf(backend.listPage({ pageSize: 10, cursor: '!!not-ours!!' }));

  // Assess
  t.same(page, { items: [] });
  t.equal(error.code, 'invalid_request');
});

t.test('a list page reads at most 16 keys’ metadata at once', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  const ids = seedDirectly(double, 100);
  await backend.ready();
  double.latencyMs = 5;
  double.resetPeaks();

  // Act
  const page = await backend.listPage({ pageSize: 100 });

  // Assess
  t.equal(page.items.length, ids.length);
  t.equal(double.peakInFlight, 16, 'reads overlap, up to the bound and no further');
});

t.test('concurrent lists share a bounded number of connections to Vault', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  seedDirectly(double, 40);
  await backend.ready();
  double.latencyMs = 5;
  double.resetPeaks();

  // Act
  const pages = await Promise.all([1, 2, 3, 4].map(() => backend.listPage({ pageSize: 40 })));

  // Assess
  t.same(
    pages.map((page) => page.items.length),
    [40, 40, 40, 40],
  );
  t.ok(double.peakConnections <= VAULT_MAX_SOCKETS, `${double.peakConnections} connections at most`);
  t.ok(double.peakInFlight <= VAULT_MAX_SOCKETS, `${double.peakInFlight} requests in Vault at once at most`);
});

t.test(
  'a list page does not pile listeners on the caller’s abort signal (no MaxListenersExceededWarning)',
  async (t) => {
    // Prepare
    const { backend, double } = await vaultFixture(t);
    seedDirectly(double, 40);
    const signal = new AbortController().signal;
    let mostListeners = 0;
    double.beforeRequest = () => {
      mostListeners = Math.max(mostListeners, getEventListeners(signal, 'abort').length);
    };
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    t.teardown(() => {
      process.off('warning', onWarning);
    });

    // Act
    const page = await backend.listPage({ pageSize: 40 }, { signal });
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick

    // Assess
    t.equal(page.items.length, 40);
    t.equal(mostListeners, 1, 'one listener on the signal, however many calls share it');
    t.same(
      warnings.map((w) => w.name),
      [],
    );
  },
);
