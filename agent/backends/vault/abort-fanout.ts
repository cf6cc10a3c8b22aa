/**
 * The Vault calls of one broker request share its AbortSignal: a list page reads up to 16 keys'
 * metadata at once. One listener per call would pass Node's limit of 10 listeners per signal and print a MaxListenersExceededWarning, so each signal gets a
 * single listener that calls every subscriber.
 */
const subscribers = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `listener` once when `signal` aborts; the returned function unsubscribes it. */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  let listeners = subscribers.get(signal);
  if (!listeners) {
    const created = new Set<() => void>();
    subscribers.set(signal, created);
    signal.addEventListener('abort', () => notifyAll(created), { once: true });
    listeners = created;
  }
  const current = listeners;
  current.add(listener);
  return () => {
    current.delete(listener);
  };
}

function notifyAll(listeners: Set<() => void>): void {
  const pending = [...listeners];
  listeners.clear();
  for (const listener of pending) listener();
}
