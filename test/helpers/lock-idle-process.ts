/**
 * A process that starts locking in the lock directory given as its argument (the background scan
 * included), takes and releases one lock, and then has nothing left to do: it must end by itself.
 */
import { FileSecretLocks } from '../../agent/broker/secret-locks.js';

const locks = new FileSecretLocks({ dir: process.argv[2] as string, waitMs: 0, staleMs: 10_000 });
locks.start();
await (await locks.acquire('prod/db')).release();
