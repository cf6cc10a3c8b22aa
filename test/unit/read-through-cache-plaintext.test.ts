import { randomBytes } from 'node:crypto';
import t from 'tap';
import { RecordSealer } from '../../agent/broker/record-sealer.js';
import { renderSecretUnit } from '../../agent/broker/secret-response.js';
import { makeCache, reachableTextAndBytes, secretRecord } from './read-through-cache-fixtures.js';

/** Whether `secret` appears in any reachable string, or as UTF-8 in any reachable memory. */
function plaintextReachable(root: unknown, secret: string): boolean {
  const { strings, bytes } = reachableTextAndBytes(root);
  // Not Buffer.from: a pooled needle would sit in the very slab being searched.
  const needle = Buffer.from(new TextEncoder().encode(secret).buffer);
  return (
    strings.some((text) => text.includes(secret)) ||
    bytes.some((memory) => Buffer.from(memory.buffer, memory.byteOffset, memory.byteLength).includes(needle))
  );
}

t.test('no cached value is readable in plaintext from the cache structures', async (t) => {
  // Prepare: distinctive values, short (pooled buffers) and long, read current, pinned and written.
  const { cache, backend } = makeCache({ maxEntries: 10 });
  const values = [
    `short-${randomBytes(8).toString('hex')}`,
    `pinned-${randomBytes(8).toString('hex')}`,
    `written-${randomBytes(8).toString('hex')}`,
    `long-${randomBytes(600).toString('hex')}`,
  ];
  backend.set(secretRecord('prod/db', '1', values[0]!));
  backend.set(secretRecord('prod/db', '0', values[1]!), true);
  backend.set(secretRecord('prod/big', '1', values[3]!));

  // Act
  await cache.read('prod/db', undefined, backend.loader('prod/db'));
  await cache.read('prod/db', '0', backend.loader('prod/db', '0'));
  cache.remember(secretRecord('prod/api', '5', values[2]!));
  await cache.read('prod/big', undefined, backend.loader('prod/big'));
  const hit = await cache.read('prod/big', undefined, backend.loader('prod/big'));

  // Assess
  t.equal(cache.size, 4);
  t.equal(hit.record.value, values[3], 'the value still comes out decrypted');
  for (const value of values) t.notOk(plaintextReachable(cache, value), `${value.slice(0, 12)}... is not in the clear`);
  t.ok(plaintextReachable(cache, 'prod/api'), 'the walk reaches the entries (ids are kept in the clear)');
  // Four entries, each a nonce and a ciphertext.
  t.ok(reachableTextAndBytes(cache).bytes.length >= 8, 'the walk reaches the sealed buffers');
});

t.test('the plaintext scan finds a value that is held in the clear', async (t) => {
  // Prepare: the same shapes the cache uses, with the value left unencrypted.
  const value = `visible-${randomBytes(8).toString('hex')}`;
  const inBytes = { entries: new Map([['k', { sealed: new TextEncoder().encode(`{"value":"${value}"}`) }]]) };
  const inString = { keys: new Set([{ record: { value } }]) };

  // Act and Assess
  t.ok(plaintextReachable(inBytes, value));
  t.ok(plaintextReachable(inString, value));
});

t.test('a sealed record opens only unaltered and under the binding it was sealed with', async (t) => {
  // Prepare
  const sealer = new RecordSealer();
  const record = renderSecretUnit(secretRecord('k', '1', 'sensitive'));

  // Act
  const first = sealer.seal(record, 'k');
  const second = sealer.seal(record, 'k');
  const tampered = { ...first, ciphertext: Buffer.from(first.ciphertext) };
  tampered.ciphertext[0] = (tampered.ciphertext[0] ?? 0) ^ 1;

  // Assess
  t.same(sealer.open(first, 'k'), record);
  t.notSame(first.nonce, second.nonce, 'every seal uses a fresh nonce');
  t.notSame(first.ciphertext, second.ciphertext);
  t.throws(() => sealer.open(tampered, 'k'));
  t.throws(() => sealer.open(first, 'other'), 'an entry cannot be moved to another key');
  t.throws(() => new RecordSealer().open(first, 'k'), 'another instance has another key');
});
