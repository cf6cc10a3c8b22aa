/**
 * The client against a real broker process on the file backend: every call the server serves
 * today, list pages, errors that carry the problem's code, and a token file that changes.
 */
import { stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { SecretsBrokerClient, SecretsBrokerError } from '../../agent/client/index.js';
import { startFileBroker } from './file-broker.js';

async function rejection(promise: Promise<unknown>): Promise<SecretsBrokerError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SecretsBrokerError) return err;
    throw err;
  }
  throw new Error('the call succeeded');
}

t.test('the client creates, reads, replaces and deletes a secret over the socket and TCP', async (t) => {
  // Prepare
  const broker = await startFileBroker(t);
  const client = new SecretsBrokerClient({ env: {}, cwd: broker.dir });
  const overTcp = new SecretsBrokerClient({ url: broker.url, tokenFile: broker.tokenFile });
  t.teardown(() => {
    client.close();
    overTcp.close();
  });

  // Act
  const created = await client.create({ id: 'prod/db/password', value: 'first', tags: { team: 'core' } });
  const read = await client.get('prod/db/password');
  const replaced = await client.put('prod/db/password', { value: 'second' }, { ifMatch: created.version });
  const previous = await client.get('prod/db/password', { version: created.version });
  const fresh = await overTcp.get('prod/db/password', { noCache: true });
  await client.delete('prod/db/password', { ifMatch: replaced.version });
  const gone = await rejection(client.get('prod/db/password'));

  // Assess
  t.same(
    { id: created.id, encoding: created.encoding, tags: created.tags },
    { id: 'prod/db/password', encoding: 'utf8', tags: { team: 'core' } },
  );
  t.notOk('value' in created, 'a write answers without the value');
  t.match(read, { id: 'prod/db/password', value: 'first', version: created.version, locked: false });
  t.not(replaced.version, created.version, 'put answers the new version');
  t.equal(previous.value, 'first', 'an older version by `version`');
  t.match(fresh, { value: 'second', version: replaced.version }, 'the same secret over TCP');
  t.match(gone, { name: 'SecretsBrokerError', code: 'not_found', status: 404 });
});

t.test('a failed call throws a SecretsBrokerError carrying the problem code, status and detail', async (t) => {
  // Prepare
  const broker = await startFileBroker(t);
  const client = new SecretsBrokerClient({ socketPath: broker.socketPath });
  t.teardown(() => client.close());
  const created = await client.create({ id: 'app/key', value: 'v1' });
  await client.put('app/key', { value: 'v2' });

  // Act
  const stale = await rejection(client.put('app/key', { value: 'v3' }, { ifMatch: created.version }));
  const taken = await rejection(client.create({ id: 'app/key', value: 'again' }));
  const badId = await rejection(client.get('bad//id'));

  // Assess
  t.ok(stale instanceof Error, 'an Error');
  t.match(stale, { name: 'SecretsBrokerError', code: 'precondition_failed', status: 412 });
  t.match(stale.detail, /version/, 'the problem detail');
  t.match(stale.requestId, /.+/, 'the request id, to find the log line');
  t.match(taken, { code: 'already_exists', status: 409 });
  t.match(badId, { code: 'invalid_id', status: 400 });
  t.equal((await client.get('app/key')).value, 'v2', 'the refused write left the value intact');
});

t.test('a forced delete frees the id that a recoverable delete keeps', async (t) => {
  // Prepare
  const broker = await startFileBroker(t);
  const client = new SecretsBrokerClient({ socketPath: broker.socketPath });
  t.teardown(() => client.close());
  await client.create({ id: 'tmp/one', value: 'x' });
  await client.delete('tmp/one');

  // Act
  const pending = await rejection(client.create({ id: 'tmp/one', value: 'y' }));
  await client.delete('tmp/one', { force: true });
  const recreated = await client.create({ id: 'tmp/one', value: 'z' });

  // Assess
  t.equal(pending.code, 'pending_deletion');
  t.equal(recreated.id, 'tmp/one');
});

t.test('list yields every match across pages, following nextCursor', async (t) => {
  // Prepare
  const broker = await startFileBroker(t);
  const client = new SecretsBrokerClient({ socketPath: broker.socketPath });
  t.teardown(() => client.close());
  const ids = Array.from({ length: 7 }, (_, i) => `team/a/${i}`);
  for (const id of [...ids, 'other/x', 'team/b/y']) await client.create({ id, value: `value of ${id}` });

  // Act
  const firstPage = await client.listPage({ filter: '^team/a/', limit: 2 });
  const listed: string[] = [];
  for await (const item of client.list({ filter: '^team/a/', limit: 2 })) listed.push(item.id);

  // Assess
  t.equal(firstPage.items.length, 2);
  t.ok(firstPage.nextCursor, 'a page that is not the last says where the next starts');
  t.same(listed.sort(), ids, 'every match once, from four pages');
  t.notOk(JSON.stringify(firstPage).includes('value of'), 'lists never carry values');
});

t.test('the token file is read again when it changes', async (t) => {
  // Prepare
  const broker = await startFileBroker(t);
  const tokenFile = path.join(broker.dir, 'client-token');
  await writeFile(tokenFile, 'not-the-token\n');
  const client = new SecretsBrokerClient({ socketPath: broker.socketPath, tokenFile });
  t.teardown(() => client.close());

  // Act
  const refused = await rejection(client.listPage());
  await writeFile(tokenFile, `${broker.token}\n`);
  const listed = await client.listPage();

  // Assess
  t.match(refused, { code: 'unauthorized', status: 401 });
  t.same(listed.items, [], 'the new token is used without a new client');
});

t.test('a 401 makes the client read the token again once, even when the file looks unchanged', async (t) => {
  // Prepare: same-size rewrites with one whole-second mtime, as a coarse-timestamp file system leaves them
  const broker = await startFileBroker(t);
  const tokenFile = path.join(broker.dir, 'client-token');
  const sameTime = new Date('2026-01-01T00:00:00Z');
  const rewrite = async (text: string) => {
    await writeFile(tokenFile, text);
    await utimes(tokenFile, sameTime, sameTime);
  };
  await rewrite('x'.repeat(broker.token.length));
  const client = new SecretsBrokerClient({ socketPath: broker.socketPath, tokenFile });
  t.teardown(() => client.close());
  const refused = await rejection(client.listPage());
  const stampBefore = await stat(tokenFile);

  // Act
  await rewrite(broker.token);
  const stampAfter = await stat(tokenFile);
  const listed = await client.listPage();

  // Assess
  t.equal(refused.code, 'unauthorized', 'a wrong token is refused, and reading it again changes nothing');
  t.same([stampAfter.size, stampAfter.mtimeMs], [stampBefore.size, stampBefore.mtimeMs], 'the file looks unchanged');
  t.same(listed.items, [], 'the right token, read after the 401, is sent again');
});

t.test('a missing socket or token file fails with a code of its own', async (t) => {
  // Prepare
  const broker = await startFileBroker(t);
  const noSocket = new SecretsBrokerClient({ socketPath: path.join(broker.dir, 'none.sock'), token: broker.token });
  const noToken = new SecretsBrokerClient({ socketPath: broker.socketPath, tokenFile: path.join(broker.dir, 'none') });

  // Act
  const unreachable = await rejection(noSocket.get('a'));
  const unreadable = await rejection(noToken.get('a'));

  // Assess
  t.match(unreachable, { code: 'connection_failed', status: 0, detail: /none\.sock.*ENOENT/ });
  t.match(unreadable, { code: 'token_unreadable', status: 0, detail: /none: ENOENT/ });
});
