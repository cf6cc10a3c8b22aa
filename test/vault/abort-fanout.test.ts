import { getEventListeners } from 'node:events';
import t from 'tap';
import { onAbort } from '../../agent/backends/vault/abort-fanout.js';

t.test('one abort reaches every call sharing the signal, through a single listener', async (t) => {
  // Prepare
  const controller = new AbortController();
  const called: number[] = [];
  const unsubscribes = Array.from({ length: 20 }, (_, i) => onAbort(controller.signal, () => called.push(i)));
  unsubscribes[3]?.(); // this call finished before the abort

  // Act
  const listeners = getEventListeners(controller.signal, 'abort').length;
  controller.abort();

  // Assess
  t.equal(listeners, 1);
  t.same(
    called,
    Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 3),
  );
});
