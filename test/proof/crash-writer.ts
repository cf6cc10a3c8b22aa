/**
 * A writer that owns one counter secret and increments it for as long as it is told to, through a
 * broker that is SIGKILLed and restarted under it. Because nobody else writes its secret, it knows
 * exactly which values may be there: at least the last value a 200 acknowledged, at most the
 * highest value it ever sent (a write in flight at a kill may or may not have landed).
 */
import {
  type CounterClient,
  type CounterState,
  incrementCounter,
  readCounter,
  sleep,
} from '../helpers/counter-requests.js';

/** A locked secret answers 423 with Retry-After; this many in a row means the lock never came free. */
const MAX_RETRIES_IN_A_ROW = 30;
/** Pause before trying a broker that did not answer: it is being killed or is starting up. */
const UNREACHABLE_PAUSE_MS = 25;

export interface WriterLedger {
  id: string;
  /** The value of the last write answered 200. */
  acknowledged: number;
  /** The highest value ever sent in a PUT, answered or not. */
  highestSent: number;
  /** When the last write was acknowledged (performance.now()). */
  lastAckAt: number;
  /** PUTs that got no answer: the broker died under them. */
  interruptedWrites: number;
  /** Reads that showed a value outside [acknowledged, highestSent]: an acknowledged write lost, or a phantom. */
  impossibleReads: string[];
  /** Answers the protocol does not allow here (anything but 200, 412, 423 or 503 with Retry-After). */
  unexpected: string[];
}

export function newLedger(id: string): WriterLedger {
  return {
    id,
    acknowledged: 0,
    highestSent: 0,
    lastAckAt: 0,
    interruptedWrites: 0,
    impossibleReads: [],
    unexpected: [],
  };
}

/** Increments until `running()` turns false, keeping `ledger` up to date. */
export async function runCrashWriter(
  client: CounterClient,
  ledger: WriterLedger,
  running: () => boolean,
): Promise<void> {
  let base: CounterState | undefined;
  let retriesInARow = 0;
  while (running() && retriesInARow < MAX_RETRIES_IN_A_ROW) {
    const outcome = base ? await sendIncrement(client, ledger, base) : await readCounter(client);
    if (outcome.kind === 'ok') {
      if (base) acknowledge(ledger, outcome.state.value);
      else checkRead(ledger, outcome.state.value);
      base = outcome.state;
      retriesInARow = 0;
      continue;
    }
    if (outcome.kind === 'retry') {
      retriesInARow += 1;
      await sleep(outcome.retryAfterMs);
      continue;
    }
    if (outcome.kind === 'unreachable') {
      if (base) ledger.interruptedWrites += 1;
      await sleep(UNREACHABLE_PAUSE_MS);
    } else if (outcome.kind === 'refused') {
      ledger.unexpected.push(`${base ? 'PUT' : 'GET'} answered ${outcome.status}: ${outcome.body}`);
      await sleep(UNREACHABLE_PAUSE_MS);
    }
    // After a 412, a failed connection or an odd answer, the writer no longer knows the current version.
    base = undefined;
  }
  if (retriesInARow >= MAX_RETRIES_IN_A_ROW)
    ledger.unexpected.push(`${retriesInARow} answers with Retry-After in a row`);
}

function sendIncrement(client: CounterClient, ledger: WriterLedger, base: CounterState) {
  ledger.highestSent = Math.max(ledger.highestSent, base.value + 1);
  return incrementCounter(client, base);
}

function acknowledge(ledger: WriterLedger, value: number): void {
  checkRead(ledger, value);
  ledger.acknowledged = value;
  ledger.lastAckAt = performance.now();
}

/** Records a value the writer could not have left there. */
export function checkRead(ledger: WriterLedger, value: number): void {
  if (value < ledger.acknowledged || value > ledger.highestSent) {
    ledger.impossibleReads.push(
      `read ${value}; acknowledged ${ledger.acknowledged}, highest sent ${ledger.highestSent}`,
    );
  }
}
