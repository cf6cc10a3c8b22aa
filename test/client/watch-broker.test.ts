/** The client's `watch` against a real broker process on the file backend, not a scripted server. */
import t from 'tap';
import { SecretsBrokerClient } from '../../agent/client/index.js';
import { startFileBroker } from './file-broker.js';

t.test('the client watch yields each version written through the broker, across unchanged waits', async (t) => {
  // Prepare
  const broker = await startFileBroker(t);
  const client = new SecretsBrokerClient({ env: {}, cwd: broker.dir });
  const writer = new SecretsBrokerClient({ env: {}, cwd: broker.dir });
  t.teardown(() => {
    client.close();
    writer.close();
  });
  const created = await writer.create({ id: 'app/db', value: 'one' });
  const stop = new AbortController();

  // Act
  const seen: string[] = [];
  const watching = (async () => {
    for await (const secret of client.watch('app/db', {
      since: created.version,
      waitSeconds: 1,
      signal: stop.signal,
    })) {
      seen.push(secret.value);
      if (seen.length === 2) stop.abort();
    }
  })();
  // The first wait runs out unchanged (a 304) before the first write.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const two = await writer.put('app/db', { value: 'two' }, { ifMatch: created.version });
  while (seen.length < 1) await new Promise((resolve) => setTimeout(resolve, 20));
  await writer.put('app/db', { value: 'three' }, { ifMatch: two.version });
  await watching;

  // Assess
  t.same(seen, ['two', 'three'], 'each new value once, in order');
});
