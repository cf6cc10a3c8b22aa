/**
 * Crash durability of the file store: writers keep incrementing their own counters with
 * conditional PUTs while the broker process is SIGKILLed at random moments and restarted on the
 * same store, lock directory, socket and token. No acknowledged write may be lost, every record
 * must stay readable, and start-up must clear what a killed writer left half done.
 */
import path from 'node:path';
import t from 'tap';
import {
  type CounterClient,
  type CounterState,
  createCounter,
  readCounter,
  StatusTally,
  sleep,
} from '../helpers/counter-requests.js';
import { request } from '../helpers/http-client.js';
import { fileStoreEnv, restartableBroker, tempDirForTest, tempFilesIn } from '../helpers/restartable-broker.js';
import { checkRead, newLedger, runCrashWriter, type WriterLedger } from './crash-writer.js';

const WRITERS = 4;
const KILLS = 12;
/** After every writer got a write through in a life, the kill comes this much later at most. */
const KILL_JITTER_MS = 500;
/**
 * Four times the lock staleness below: a writer that gets nothing through for this long after a
 * restart is blocked by a lock that is never taken over, not merely slow.
 */
const STUCK_AFTER_MS = 8000;
/**
 * The shortest staleness the broker accepts, so that a lock left by a killed broker costs at most
 * seconds; a short lock wait, so that writers meet 423 + Retry-After and must honour it.
 */
const LOCK_ENV = { SECRETS_BROKER_LOCK_STALE_MS: '2000', SECRETS_BROKER_LOCK_WAIT_MS: '500' };
t.test('SIGKILLs under conditional writers lose no acknowledged write and leave no torn file', async (t) => {
  // Prepare
  const dir = await tempDirForTest(t, 'sb-crash-');
  const storeDir = path.join(dir, 'store');
  const broker = restartableBroker(t, {
    name: 'broker',
    dir,
    lockDir: path.join(dir, 'locks'),
    backendEnv: fileStoreEnv(storeDir),
    extraEnv: LOCK_ENV,
  });
  await broker.start();
  const token = broker.token();
  const tally = new StatusTally();
  const clients = Array.from({ length: WRITERS }, (_, i) => ({
    target: broker.target,
    token,
    id: `crash/writer-${i}`,
    tally,
  }));
  for (const client of clients) t.equal((await createCounter(client)).status, 201, `${client.id} created`);
  const ledgers = clients.map((client) => newLedger(client.id));
  let running = true;
  const writers = clients.map((client, i) => runCrashWriter(client, ledgers[i]!, () => running));

  // Act: kill and restart, noting how long each restart took to get every writer's write through
  const firstWrites: string[] = [];
  const stuckWriters: string[] = [];
  const leftovers = new Map<string, string>();
  const noteFirstWrites = async (since: number, kill: number) => {
    const stuck = await writersWithoutWriteSince(ledgers, since);
    firstWrites.push(stuck.length === 0 ? `${Math.round(performance.now() - since)}` : `>${STUCK_AFTER_MS}`);
    if (stuck.length > 0) stuckWriters.push(`restart ${kill}: ${stuck.join(', ')}`);
  };
  await noteFirstWrites(performance.now(), 0);
  for (let kill = 1; kill <= KILLS; kill += 1) {
    await sleep(Math.random() * KILL_JITTER_MS);
    await broker.kill();
    const leftBehind = await tempFilesIn(storeDir);
    await broker.start();
    const stillThere = (await tempFilesIn(storeDir)).filter((name) => leftBehind.includes(name));
    for (const name of stillThere) if (!leftovers.has(name)) leftovers.set(name, `kill ${kill}: ${name}`);
    t.equal(broker.token(), token, `restart ${kill}: the same token file`);
    await noteFirstWrites(performance.now(), kill);
  }
  running = false;
  await Promise.all(writers);

  // Assess
  const finals = await Promise.all(clients.map((client) => readCounter(client)));
  const previousValues = await Promise.all(
    finals.map((final, i) => (final.kind === 'ok' ? previousValue(clients[i]!, final.state) : 'none')),
  );
  const listed = await request(broker.target, 'GET', '/secrets?filter=%5Ecrash%2F', { token });
  t.comment(`ms from each start until every writer had a write acknowledged: ${firstWrites.join(', ')}`);
  t.comment(`answers: ${JSON.stringify(tally)}; temp files kept by start-ups: ${leftovers.size}`);
  ledgers.forEach((ledger, i) => {
    const final = finals[i]!;
    t.equal(final.kind, 'ok', `${ledger.id} reads 200 after the last restart`);
    if (final.kind === 'ok') checkRead(ledger, final.state.value);
    t.equal(
      previousValues[i],
      final.kind === 'ok' ? String(final.state.value - 1) : 'none',
      `${ledger.id}: its previous version reads back too`,
    );
    t.same(ledger.impossibleReads, [], `${ledger.id}: no acknowledged write lost, no value never sent`);
    t.same(ledger.unexpected, [], `${ledger.id}: only 200, 412 and 423 answered`);
    t.ok(ledger.acknowledged > KILLS, `${ledger.id} made progress (${ledger.acknowledged} acknowledged)`);
  });
  const interrupted = ledgers.reduce((sum, ledger) => sum + ledger.interruptedWrites, 0);
  t.ok(interrupted > 0, `kills interrupted writes in flight (${interrupted})`);
  t.same(stuckWriters, [], "after every restart every writer gets a write through: a dead broker's lock is taken over");
  t.same(tally.serverErrors(), {}, 'no 5xx');
  t.same([...leftovers.values()], [], 'start-up removes the temp files a killed writer left');
  t.same(await tempFilesIn(storeDir), [], 'no temp file in the store at the end');
  t.same(
    listed.json().items.map((item: { id: string }) => item.id),
    clients.map((client) => client.id),
    'every secret is listed',
  );
  if (!t.passing()) t.comment(broker.output());
});

/** The value of the version before `state` (the file store numbers versions 1, 2, 3...). */
async function previousValue(client: CounterClient, state: CounterState): Promise<string> {
  const version = Number(state.etag.replaceAll('"', '')) - 1;
  const url = `/secrets/${client.id}?version=${version}`;
  const read = await request(client.target, 'GET', url, { token: client.token });
  return read.status === 200 ? read.json().value : `status ${read.status}`;
}

/** Waits until every writer had a write acknowledged since `since`; the ids of those that had none in STUCK_AFTER_MS. */
async function writersWithoutWriteSince(ledgers: WriterLedger[], since: number): Promise<string[]> {
  const waiting = () => ledgers.filter((ledger) => ledger.lastAckAt < since).map((ledger) => ledger.id);
  while (waiting().length > 0 && performance.now() - since < STUCK_AFTER_MS) await sleep(20);
  return waiting();
}
