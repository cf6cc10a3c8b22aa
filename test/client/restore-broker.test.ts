/** The client's `restore` against a real broker process on the file backend, not a scripted server. */
import t from 'tap';
import { SecretsBrokerClient, SecretsBrokerError } from '../../agent/client/index.js';
import { startFileBroker } from './file-broker.js';

t.test('the client restores a deleted secret through the broker, and meets its 409 and 404', async (t) => {
  // Prepare
  const broker = await startFileBroker(t);
  const client = new SecretsBrokerClient({ env: {}, cwd: broker.dir });
  const created = await client.create({ id: 'app/db', value: 's3cret' });
  await client.delete('app/db');

  // Act
  const restored = await client.restore('app/db');
  const live = await client.restore('app/db').catch((err: unknown) => err);
  const missing = await client.restore('app/none').catch((err: unknown) => err);

  // Assess
  t.match(restored, { id: 'app/db', version: created.version });
  t.equal((await client.get('app/db')).value, 's3cret');
  t.ok(live instanceof SecretsBrokerError);
  t.match(live, { status: 409, code: 'already_exists' });
  t.match(missing, { status: 404, code: 'not_found' });
});
