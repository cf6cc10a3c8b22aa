/**
 * Listing through ListSecrets over 250 secrets: paging with NextToken, the server-side `name`
 * filter for a literal prefix, and the broker's RE2 filter and cursor on top of the backend's pages.
 */
import { CreateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import t from 'tap';
import type { SecretBackend, SecretMetadata } from '../../agent/backends/contract.js';
import { listSecrets } from '../../agent/broker/secret-lister.js';
import { awsFixture } from '../fixtures/aws/aws-fixture.js';
import { motoForTest } from '../helpers/moto-server.js';

const moto = await motoForTest(t);

/** 150 ids under team-a/ and 100 under team-b/, created interleaved. */
const TEAM_A = Array.from({ length: 150 }, (_, i) => `team-a/${String(i).padStart(3, '0')}`);
const TEAM_B = Array.from({ length: 100 }, (_, i) => `team-b/${String(i).padStart(3, '0')}`);

/** Creates the 250 secrets one by one: moto's secret store is not safe for concurrent creates. */
async function seed(direct: SecretsManagerClient): Promise<void> {
  const ids = TEAM_A.flatMap((id, i) => (TEAM_B[i] ? [id, TEAM_B[i]] : [id]));
  for (const Name of ids) await direct.send(new CreateSecretCommand({ Name, SecretString: 'v' }));
}

/** Follows nextCursor from the first page to the last, returning every page. */
async function allPages(backend: SecretBackend, prefix: string | undefined, pageSize: number) {
  const pages: SecretMetadata[][] = [];
  let cursor: string | undefined;
  do {
    const page = await backend.listPage({ pageSize, ...(prefix ? { prefix } : {}), ...(cursor ? { cursor } : {}) });
    pages.push(page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return pages;
}

if (moto) {
  t.test('paging with a prefix returns every matching secret once, narrowed server-side', async (t) => {
    // Prepare
    const { backend, proxy, direct } = await awsFixture(t, moto);
    await seed(direct);

    // Act
    const pages = await allPages(backend, 'team-a/', 40);

    // Assess
    const ids = pages.flat().map((item) => item.id);
    t.same([...ids].sort(), TEAM_A, 'all 150, no duplicates, nothing from team-b');
    t.ok(
      pages.every((p) => p.length <= 40),
      'no page is larger than asked',
    );
    t.equal(proxy.count('ListSecrets'), pages.length, 'one ListSecrets call per page');
    for (const seen of proxy.seen) {
      t.match(JSON.parse(seen.body), { Filters: [{ Key: 'name', Values: ['team-a/'] }], MaxResults: 40 });
    }
  });

  t.test('a page size above 100 asks AWS for its maximum of 100', async (t) => {
    // Prepare
    const { backend, proxy, direct } = await awsFixture(t, moto);
    await seed(direct);

    // Act
    const pages = await allPages(backend, undefined, 1000);

    // Assess
    t.same(
      pages.map((p) => p.length),
      [100, 100, 50],
    );
    t.match(JSON.parse(proxy.seen[0]?.body ?? '{}'), { MaxResults: 100 });
    t.notOk('Filters' in JSON.parse(proxy.seen[0]?.body ?? '{}'), 'no prefix, no filter');
  });

  t.test('the same cursor returns the same items while nothing changes', async (t) => {
    // Prepare
    const { backend, direct } = await awsFixture(t, moto);
    await seed(direct);
    const first = await backend.listPage({ pageSize: 30 });

    // Act
    const second = await backend.listPage({ pageSize: 30, cursor: first.nextCursor as string });
    const again = await backend.listPage({ pageSize: 30, cursor: first.nextCursor as string });

    // Assess
    t.same(again, second);
  });

  t.test('items carry metadata only and leave out secrets pending deletion', async (t) => {
    // Prepare
    const { backend } = await awsFixture(t, moto);
    const kept = await backend.create({
      id: 'x/kept',
      value: 'v',
      encoding: 'utf8',
      description: 'd',
      tags: { k: 'v' },
    });
    await backend.create({ id: 'x/gone', value: 'v', encoding: 'utf8' });
    await backend.delete('x/gone', { force: false });

    // Act
    const page = await backend.listPage({ pageSize: 10, prefix: 'x/' });

    // Assess
    t.equal(page.items.length, 1);
    t.match(page.items[0], { id: 'x/kept', version: kept.version, description: 'd', tags: { k: 'v' } });
    t.notOk('value' in (page.items[0] ?? {}));
  });

  t.test("the broker's RE2 filter over the backend's pages finds every match across cursors", async (t) => {
    // Prepare
    const { backend, proxy, direct } = await awsFixture(t, moto);
    await seed(direct);
    const readPage = backend.listPage.bind(backend);

    // Act
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const result = await listSecrets(readPage, {
        filter: '^team-a/1[0-4]',
        limit: 20,
        ...(cursor ? { cursor } : {}),
      });
      ids.push(...result.items.map((item) => item.id));
      cursor = result.nextCursor;
    } while (cursor !== undefined);

    // Assess
    t.same(
      ids.sort(),
      TEAM_A.filter((id) => /^team-a\/1[0-4]/.test(id)),
    );
    for (const seen of proxy.seen) {
      t.match(JSON.parse(seen.body), { Filters: [{ Key: 'name', Values: ['team-a/1'] }] });
    }
  });
}
