/**
 * A counter kept in a secret, driven over the broker's API the way a careful writer does it: read
 * the value and its ETag, `PUT` value + 1 with `If-Match`, and on 412 read again. Each answer is
 * reduced to what the writer does next, and every status is tallied so a test can assert on them.
 */
import { type Response, request, type Target } from './http-client.js';

export interface CounterState {
  value: number;
  etag: string;
}

/** What a write or read came to, from the writer's point of view. */
export type CounterOutcome<T> =
  | { kind: 'ok'; state: T }
  /** 412: someone wrote since the read. */
  | { kind: 'conflict' }
  /** 423 or 503 with Retry-After: try again after that long. */
  | { kind: 'retry'; status: number; retryAfterMs: number }
  /** No answer: the connection failed (a broker being killed or restarted). */
  | { kind: 'unreachable'; error: string }
  /** Any other answer: the test decides whether that is a failure. */
  | { kind: 'refused'; status: number; body: string };

/** Counts answers by status (and connection failures under `unreachable`). */
export class StatusTally {
  readonly counts = new Map<string, number>();

  add(status: number | 'unreachable'): void {
    const key = String(status);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Every 5xx answered, e.g. `{ '503': 2 }`. */
  serverErrors(): Record<string, number> {
    return Object.fromEntries([...this.counts].filter(([status]) => status.startsWith('5')));
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort());
  }
}

export interface CounterClient {
  target: Target;
  token: string;
  id: string;
  tally: StatusTally;
}

/** Reads the counter around the cache, so a stale cached copy does not cost a round of 412s. */
export async function readCounter(client: CounterClient): Promise<CounterOutcome<CounterState>> {
  const answer = await send(client, 'GET', { headers: { 'cache-control': 'no-cache' } });
  if (!('status' in answer) || answer.status !== 200) return outcomeOf(answer);
  const value = Number(answer.json().value);
  if (!Number.isInteger(value)) return { kind: 'refused', status: 200, body: 'value is not an integer' };
  return { kind: 'ok', state: { value, etag: String(answer.headers.etag) } };
}

/** Writes `base.value + 1` if the counter is still at `base`'s version. */
export async function incrementCounter(
  client: CounterClient,
  base: CounterState,
): Promise<CounterOutcome<CounterState>> {
  const value = base.value + 1;
  const answer = await send(client, 'PUT', { body: { value: String(value) }, headers: { 'if-match': base.etag } });
  if (!('status' in answer) || answer.status !== 200) return outcomeOf(answer);
  return { kind: 'ok', state: { value, etag: String(answer.headers.etag) } };
}

/** Creates the counter at 0. */
export async function createCounter(client: CounterClient): Promise<Response> {
  return request(client.target, 'POST', '/secrets', { token: client.token, body: { id: client.id, value: '0' } });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function send(
  client: CounterClient,
  method: string,
  options: { body?: unknown; headers: Record<string, string> },
): Promise<Response | { error: string }> {
  try {
    const answer = await request(client.target, method, `/secrets/${client.id}`, { token: client.token, ...options });
    client.tally.add(answer.status);
    return answer;
  } catch (err) {
    client.tally.add('unreachable');
    return { error: (err as Error).message };
  }
}

function outcomeOf(answer: Response | { error: string }): CounterOutcome<never> {
  if ('error' in answer) return { kind: 'unreachable', error: answer.error };
  const retryAfter = Number(answer.headers['retry-after']);
  if ((answer.status === 423 || answer.status === 503) && retryAfter > 0) {
    return { kind: 'retry', status: answer.status, retryAfterMs: retryAfter * 1000 };
  }
  if (answer.status === 412) return { kind: 'conflict' };
  return { kind: 'refused', status: answer.status, body: answer.body };
}
