/**
 * The race proof, for any backend: three broker processes share one lock directory (and whatever
 * the backend's settings point them at), four workers per broker each make 50 conditional
 * increments of one shared counter (read, `PUT` value + 1 with `If-Match`, read again on 412,
 * wait on 423), and the counter must end equal to the number of increments acknowledged, with no
 * 5xx on the way.
 *
 * A backend plugs in with the settings that point a broker at it: one `races-<backend>.test.ts`
 * file each (file, aws, vault) starts what the backend needs and passes those settings here.
 */
import path from 'node:path';
import type { Test } from 'tap';
import {
  type CounterClient,
  createCounter,
  incrementCounter,
  readCounter,
  StatusTally,
  sleep,
} from '../helpers/counter-requests.js';
import { restartableBroker, tempDirForTest } from '../helpers/restartable-broker.js';

const BROKERS = 3;
const WORKERS_PER_BROKER = 4;
const INCREMENTS_PER_WORKER = 50;
/** A worker that needs this many reads for its increments is starved: the test fails rather than hang. */
const MAX_ROUNDS_PER_WORKER = 3000;
/**
 * After losing rounds (412) in a row, a worker waits a random part of 1, 2, 4... up to this many
 * times what its last round took, as a client backing off would: every lost round also held the
 * lock for a backend read, which slows the winners, and the slower the backend the longer a round.
 */
const MAX_BACKOFF_ROUNDS = 8;
const COUNTER_ID = 'race/counter';

/**
 * Runs the race against brokers started with the settings `backendEnv` gives for the test's
 * temporary directory (which holds the sockets, tokens, locks and, for the file backend, the store),
 * and asserts on it.
 */
export async function proveRaceOnBackend(t: Test, backendEnv: (dir: string) => Record<string, string>): Promise<void> {
  // Prepare
  const dir = await tempDirForTest(t, 'sb-race-');
  const lockDir = path.join(dir, 'locks');
  const env = backendEnv(dir);
  const brokers = Array.from({ length: BROKERS }, (_, i) =>
    restartableBroker(t, { name: `broker-${i}`, dir, lockDir, backendEnv: env }),
  );
  await Promise.all(brokers.map((broker) => broker.start()));
  const tally = new StatusTally();
  const clients: CounterClient[] = brokers.flatMap((broker) =>
    Array.from({ length: WORKERS_PER_BROKER }, () => ({
      target: broker.target,
      token: broker.token(),
      id: COUNTER_ID,
      tally,
    })),
  );
  t.equal((await createCounter(clients[0]!)).status, 201, 'the counter is created at 0');

  // Act
  const unexpected: string[] = [];
  const counts = await Promise.all(clients.map((client) => incrementTimes(client, unexpected)));
  const acknowledged = counts.reduce((sum, count) => sum + count, 0);
  const finalReads = await Promise.all(
    clients
      .filter((_, i) => i % WORKERS_PER_BROKER === 0)
      .map(async (client) => {
        const read = await readCounter(client);
        return read.kind === 'ok' ? String(read.state.value) : JSON.stringify(read);
      }),
  );

  // Assess
  t.comment(`answers: ${JSON.stringify(tally)}`);
  t.equal(acknowledged, BROKERS * WORKERS_PER_BROKER * INCREMENTS_PER_WORKER, 'every worker got its increments');
  t.same(finalReads, Array(BROKERS).fill(String(acknowledged)), 'each broker reads the counter as acknowledged');
  t.same(tally.serverErrors(), {}, 'no 5xx');
  t.same(unexpected, [], 'only 200, 412 and 423 answered');
  if (!t.passing()) t.comment(brokers.map((broker) => broker.output()).join('\n'));
}

/** Makes INCREMENTS_PER_WORKER acknowledged increments (or gives up); returns how many were acknowledged. */
async function incrementTimes(client: CounterClient, unexpected: string[]): Promise<number> {
  let acknowledged = 0;
  let conflictsInARow = 0;
  for (let round = 0; round < MAX_ROUNDS_PER_WORKER && acknowledged < INCREMENTS_PER_WORKER; round += 1) {
    const started = performance.now();
    const read = await readCounter(client);
    const outcome = read.kind === 'ok' ? await incrementCounter(client, read.state) : read;
    const roundMs = performance.now() - started;
    conflictsInARow = outcome.kind === 'conflict' ? conflictsInARow + 1 : 0;
    if (outcome.kind === 'ok') acknowledged += 1;
    else if (outcome.kind === 'conflict') await sleep(Math.random() * roundMs * backoffRounds(conflictsInARow));
    else if (outcome.kind === 'retry') await sleep(outcome.retryAfterMs);
    else {
      unexpected.push(outcome.kind === 'refused' ? `${outcome.status} ${outcome.body}` : outcome.error);
      await sleep(roundMs);
    }
  }
  return acknowledged;
}

function backoffRounds(conflictsInARow: number): number {
  return Math.min(MAX_BACKOFF_ROUNDS, 2 ** (conflictsInARow - 1));
}
