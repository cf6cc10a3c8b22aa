/**
 * Seals secret records for the in-memory cache: AES-256-GCM under a key that exists only in this
 * process, a fresh random IV per record, and the record's cache key as additional authenticated
 * data so that one sealed record cannot be passed off as another.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import type { SecretRecord } from '../backends/contract.js';

const CIPHER = 'aes-256-gcm';
const KEY_BYTES = 32;
/** 96 bits: the IV length GCM is specified for; anything else is hashed into one. */
const IV_BYTES = 12;

/** A record as the cache holds it: nothing in here reveals the value without the process key. */
export interface SealedRecord {
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly ciphertext: Buffer;
}

/**
 * Encrypts and decrypts whole records (value and metadata alike) under a random key made at
 * construction. The key lives in a `KeyObject`, so its bytes stay outside the JavaScript heap,
 * and it is never written anywhere: a restarted process starts with an empty cache anyway.
 *
 * @example
 * const sealer = new RecordSealer();
 * const sealed = sealer.seal(record, 'prod/db');
 * sealer.open(sealed, 'prod/db'); // a fresh copy of record
 */
export class RecordSealer {
  private readonly key: KeyObject = createSecretKey(randomBytes(KEY_BYTES));

  /** Encrypts `record`; `binding` must be passed again to {@link RecordSealer.open}. */
  seal(record: SecretRecord, binding: string): SealedRecord {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, this.key, iv);
    cipher.setAAD(Buffer.from(binding, 'utf8'));
    const plaintext = Buffer.from(JSON.stringify(record), 'utf8');
    try {
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return { iv, tag: cipher.getAuthTag(), ciphertext };
    } finally {
      // Small buffers share a pooled slab: wipe our slice so no plaintext lingers there.
      plaintext.fill(0);
    }
  }

  /** Decrypts a record sealed under the same `binding`; throws if it was altered or rebound. */
  open(sealed: SealedRecord, binding: string): SecretRecord {
    const decipher = createDecipheriv(CIPHER, this.key, sealed.iv);
    decipher.setAAD(Buffer.from(binding, 'utf8'));
    decipher.setAuthTag(sealed.tag);
    const head = decipher.update(sealed.ciphertext);
    // GCM is a stream mode: `final` only checks the tag and adds no bytes, so no copy is needed.
    const tail = decipher.final();
    const plaintext = tail.length === 0 ? head : Buffer.concat([head, tail]);
    try {
      return JSON.parse(plaintext.toString('utf8')) as SecretRecord;
    } finally {
      head.fill(0);
      plaintext.fill(0);
    }
  }
}
