/**
 * Conformance rows of watches (`If-None-Match` plus `Prefer: wait=N`): a write through the broker
 * and a write behind its back both wake a held watch, an unchanged secret answers 304 when the wait
 * is over, and a malformed wait is 400. Every backend runs them through the same suite (suite.ts),
 * whose app polls watched ids every WATCH_POLL_MS.
 */
import type { Test } from 'tap';
import type { TestApp } from '../helpers/broker-app.js';
import type { GatedReads } from './gated-reads.js';

/** The suite's poll interval: short, so a write behind the broker is seen quickly. */
export const WATCH_POLL_MS = 200;

type ValueMaker = (label: string) => string;

const json = (res: { body: string }) => JSON.parse(res.body);

async function watchesHeld(api: TestApp, count: number): Promise<void> {
  for (;;) {
    const metrics = (await api.call({ method: 'GET', url: '/metrics' })).body;
    if (metrics.includes(`secrets_broker_watches ${count}\n`)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function watchRows(t: Test, api: TestApp, gated: GatedReads, prefix: string, secretValue: ValueMaker) {
  // Prepare
  const id = `${prefix}/watch`;
  const url = `/secrets/${id}`;
  const created = await api.call({ method: 'POST', url: '/secrets', body: { id, value: secretValue('watch') } });
  const watch = (etag: string, wait: string) =>
    api.call({ method: 'GET', url, headers: { 'if-none-match': etag, prefer: `wait=${wait}` } });

  // Act: a write through the broker
  const throughBroker = watch(created.headers.etag as string, '30');
  await watchesHeld(api, 1);
  const next = secretValue('watch-next');
  const written = await api.call({ method: 'PUT', url, body: { value: next } });
  const woken = await throughBroker;

  // Assess
  t.equal(woken.statusCode, 200, 'a write through the broker wakes the watch');
  t.equal(woken.headers['preference-applied'], 'wait');
  t.equal(json(woken).value, next, 'with the new value');
  t.equal(woken.headers.etag, written.headers.etag, 'and its ETag');

  // Act: nothing changes
  const unchanged = await watch(written.headers.etag as string, '1');

  // Assess
  t.equal(unchanged.statusCode, 304, 'an unchanged secret answers 304 once the wait is over');
  t.equal(unchanged.headers.etag, written.headers.etag, 'with the ETag');

  // Act: a write behind the broker's back
  const behindWatch = watch(written.headers.etag as string, '30');
  await watchesHeld(api, 1);
  const behind = secretValue('watch-behind');
  const behindWritten = await gated.inner.put(id, {
    value: behind,
    encoding: 'utf8',
    ifVersion: JSON.parse(written.headers.etag as string),
  });
  const polled = await behindWatch;

  // Assess
  t.equal(polled.statusCode, 200, 'the poller sees a write made behind the broker');
  t.equal(json(polled).value, behind, 'with the new value');
  t.equal(polled.headers.etag, `"${behindWritten.version}"`, 'and its ETag');

  for (const wait of ['0', 'abc', '301']) {
    const refused = await watch(polled.headers.etag as string, wait);
    t.equal(refused.statusCode, 400, `wait=${wait} is 400`);
    t.equal(json(refused).code, 'invalid_request');
  }
}
