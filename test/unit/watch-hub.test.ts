/** The watch hub alone: one poller per watched id, stopped with its last watcher; the cap; release at shutdown. */
import t from 'tap';
import type { VersionListener } from '../../agent/broker/version-feed.js';
import { VersionFeed } from '../../agent/broker/version-feed.js';
import { WatchHub, type WatchHubOptions } from '../../agent/broker/watch-hub.js';

function hub(options: Partial<WatchHubOptions> = {}) {
  const feed = new VersionFeed();
  const polled: string[] = [];
  const watches = new WatchHub({
    pollIntervalMs: 20,
    maxWatches: 10,
    subscribe: (id: string, listener: VersionListener) => feed.subscribe(id, listener),
    poll: async (id) => {
      polled.push(id);
    },
    ...options,
  });
  return { feed, polled, watches };
}

const later = () => Date.now() + 60_000;

t.test('watchers of one id share one poller, which stops when the last one leaves', async (t) => {
  // Prepare
  const { polled, watches } = hub();
  const a = watches.open('app/db', '1');
  const b = watches.open('app/db', '1');
  const c = watches.open('app/other', '1');

  // Act
  while (!(polled.includes('app/db') && polled.includes('app/other'))) await new Promise((r) => setTimeout(r, 5));
  const whileWatched = watches.polledIds;
  a.close();
  const afterOne = watches.polledIds;
  b.close();
  c.close();

  // Assess
  t.equal(whileWatched, 2, 'one poller per id, not per watcher');
  t.equal(afterOne, 2, 'a poller stays while its id has a watcher');
  t.equal(watches.polledIds, 0, 'and stops with the last one');
  t.equal(watches.active, 0);
});

t.test('a published version other than the one watched wakes the wait; the same one does not', async (t) => {
  // Prepare
  const { feed, watches } = hub({ pollIntervalMs: 60_000 });
  const watch = watches.open('app/db', '1');
  t.teardown(() => watch.close());

  // Act
  const waiting = watch.next(later());
  feed.publish('app/db', '1');
  feed.publish('app/db', '2');

  // Assess
  t.equal(await waiting, 'changed');
  t.equal(await watch.next(Date.now() + 10), 'timeout', 'nothing new since: the next wait runs out');
});

t.test('beyond the cap opening a watch is 503 backend_unavailable with a retry hint', async (t) => {
  // Prepare
  const { watches } = hub({ maxWatches: 1, pollIntervalMs: 60_000 });
  const first = watches.open('app/db', '1');
  t.teardown(() => first.close());

  // Act / Assess
  t.throws(() => watches.open('app/other', '1'), { code: 'backend_unavailable', retryAfterMs: Number });
});

t.test('releasing every watch ends pending waits at once, and later ones too', async (t) => {
  // Prepare
  const { watches } = hub({ pollIntervalMs: 60_000 });
  const watch = watches.open('app/db', '1');
  t.teardown(() => watch.close());
  const waiting = watch.next(later());

  // Act
  watches.releaseAll();

  // Assess
  t.equal(await waiting, 'released');
  t.equal(await watch.next(later()), 'released');
  t.equal(watches.polledIds, 0, 'no poller runs after shutdown');
});

t.test('an aborted signal (the caller left) ends the wait', async (t) => {
  // Prepare
  const { watches } = hub({ pollIntervalMs: 60_000 });
  const watch = watches.open('app/db', '1');
  t.teardown(() => watch.close());
  const gone = new AbortController();
  const waiting = watch.next(later(), gone.signal);

  // Act
  gone.abort();

  // Assess
  t.equal(await waiting, 'released');
});
