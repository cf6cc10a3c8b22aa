/**
 * The conformance rows a Node app sees through `secrets-broker/client`: the same broker and backend
 * as the HTTP rows, reached over a Unix socket by the typed client, so every backend answers the
 * client's calls (and its errors carry the problem's code) the same way.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { SecretsBrokerClient, SecretsBrokerError } from '../../agent/client/index.js';
import { TEST_TOKEN, type TestApp } from '../helpers/broker-app.js';

type ValueMaker = (label: string) => string;

/** The code and status a client call failed with, or undefined if it did not fail. */
async function failure(call: Promise<unknown>): Promise<{ code: string; status: number } | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    if (!(err instanceof SecretsBrokerError)) throw err;
    return { code: err.code, status: err.status };
  }
}

export async function clientRows(t: Test, api: TestApp, prefix: string, secretValue: ValueMaker): Promise<void> {
  // Prepare: the suite's app, also listening on a socket for the client
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-conf-client-'));
  const socketPath = path.join(dir, 'broker.sock');
  await api.app.listen({ path: socketPath });
  const client = new SecretsBrokerClient({ socketPath, token: TEST_TOKEN, maxRetries: 0 });
  t.teardown(async () => {
    client.close();
    await rm(dir, { recursive: true, force: true });
  });
  const id = `${prefix}/client/app`;
  const first = secretValue('client-1');

  // Act and assess: create, read, conditional replace
  const created = await client.create({ id, value: first, tags: { team: 'core' } });
  t.equal(created.id, id, 'create answers the id');
  const read = await client.get(id);
  t.match(read, { id, value: first, version: created.version, locked: false }, 'get answers the value and version');
  t.same(
    await failure(client.put(id, { value: secretValue('client-lost') }, { ifMatch: `${created.version}-old` })),
    { code: 'precondition_failed', status: 412 },
    'a stale ifMatch fails with the problem code',
  );
  const second = secretValue('client-2');
  const replaced = await client.put(id, { value: second }, { ifMatch: created.version });
  t.not(replaced.version, created.version, 'a matching ifMatch writes a new version');
  t.equal((await client.get(id, { noCache: true })).value, second, 'the new value reads back from the backend');

  // Act and assess: listing pages through the async iterator
  for (const n of [1, 2]) await client.create({ id: `${prefix}/client/more-${n}`, value: secretValue('client-more') });
  const listed: string[] = [];
  for await (const item of client.list({ filter: `^${prefix}/client/`, limit: 1 })) listed.push(item.id);
  t.same(listed.sort(), [id, `${prefix}/client/more-1`, `${prefix}/client/more-2`], 'list follows every page');

  // Act and assess: a watch sees the next write
  const watched = client.watch(id, { since: replaced.version, waitSeconds: 5 });
  const next = watched.next();
  const third = secretValue('client-3');
  const written = await client.put(id, { value: third });
  const seen = await next;
  await watched.return(undefined);
  t.match(seen.value, { version: written.version, value: third }, 'watch yields the version written after it began');

  // Act and assess: recoverable delete, restore, forced delete
  await client.delete(id);
  t.same(await failure(client.get(id)), { code: 'not_found', status: 404 }, 'a deleted secret is not_found');
  const restored = await client.restore(id);
  t.equal((await client.get(id)).value, third, `restore brings the value back (version ${restored.version})`);
  await client.delete(id, { force: true });
  t.same(await failure(client.restore(id)), { code: 'not_found', status: 404 }, 'nothing to restore after force');
}
