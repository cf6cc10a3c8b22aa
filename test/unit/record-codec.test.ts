import { randomBytes } from 'node:crypto';
import t from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { deriveStoreKeys } from '../../agent/backends/file/key-material.js';
import {
  HEADER_BYTES,
  isRecordFileName,
  openFile,
  openRecord,
  recordFileName,
  sealFile,
  sealRecord,
} from '../../agent/backends/file/record-codec.js';
import type { StoredRecord } from '../../agent/backends/file/stored-record.js';

const KEYS = deriveStoreKeys(Buffer.alloc(32, 7));
const OTHER_KEYS = deriveStoreKeys(Buffer.alloc(32, 8));
/** The AES-GCM authentication tag at the end of every sealed file. */
const TAG_BYTES = 16;

function record(id = 'prod/db/password', value = 'hunter2-plaintext'): StoredRecord {
  return {
    format: 1,
    id,
    createdAt: '2026-01-01T00:00:00.000Z',
    nextVersion: 2,
    versions: [{ version: '1', value, encoding: 'utf8', createdAt: '2026-01-01T00:00:00.000Z' }],
  };
}

/** The error `fn` throws, failing the test when it throws none. */
function errorOf(fn: () => unknown): SecretError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SecretError) return err;
    throw err;
  }
  throw new Error('expected a SecretError');
}

t.test('a sealed record opens to the same record under the same keys', async (t) => {
  // Prepare
  const original = record();

  // Act
  const { fileName, sealed } = sealRecord(KEYS, original);
  const opened = openRecord(KEYS, fileName, sealed, 'the test record');

  // Assess
  t.same(opened, original);
  t.equal(fileName, recordFileName(KEYS, original.id));
});

t.test('a record file reveals neither the value nor the id', async (t) => {
  // Act
  const { fileName, sealed } = sealRecord(KEYS, record('team/api-key', 'hunter2-plaintext'));

  // Assess
  const onDisk = sealed.toString('latin1');
  t.notMatch(onDisk, 'hunter2');
  t.notMatch(onDisk, 'team/api-key');
  t.notMatch(fileName, 'team');
});

t.test('a sealed file is the SBR1 magic, a 12-byte IV, the ciphertext and a 16-byte tag', async (t) => {
  // Prepare
  const plaintext = Buffer.from('exactly these bytes', 'utf8');

  // Act
  const sealed = sealFile(KEYS, 'f.rec', plaintext);

  // Assess
  t.equal(HEADER_BYTES, 4 + 12);
  t.equal(sealed.subarray(0, 4).toString('latin1'), 'SBR1');
  t.equal(sealed.length, HEADER_BYTES + plaintext.length + TAG_BYTES, 'GCM adds no padding');
});

t.test('every write starts with a new random header, so a changed file is told apart by its first bytes', async (t) => {
  // Act
  const first = sealFile(KEYS, 'f.rec', Buffer.from('same content'));
  const second = sealFile(KEYS, 'f.rec', Buffer.from('same content'));

  // Assess
  t.not(first.subarray(0, HEADER_BYTES).toString('hex'), second.subarray(0, HEADER_BYTES).toString('hex'));
  t.equal(openFile(KEYS, 'f.rec', first)?.toString(), 'same content');
  t.equal(openFile(KEYS, 'f.rec', second)?.toString(), 'same content');
});

t.test('an empty content seals to the smallest file, which still opens', async (t) => {
  // Act
  const sealed = sealFile(KEYS, 'f.rec', Buffer.alloc(0));

  // Assess
  t.equal(sealed.length, HEADER_BYTES + TAG_BYTES);
  t.same(openFile(KEYS, 'f.rec', sealed), Buffer.alloc(0));
});

t.test('a file cut short anywhere before the end of its tag does not open, and does not throw', async (t) => {
  // Prepare: a file truncated by a full disk or a crash still starts with the magic.
  const sealed = sealFile(KEYS, 'f.rec', Buffer.alloc(0));

  // Act and assess
  for (let length = 0; length < HEADER_BYTES + TAG_BYTES; length++) {
    t.equal(openFile(KEYS, 'f.rec', sealed.subarray(0, length)), undefined, `${length} bytes`);
  }
});

t.test('a file without the SBR1 magic does not open, even when the rest is intact', async (t) => {
  // Prepare: only the magic changes; IV, ciphertext and tag stay those of a good file.
  const sealed = sealFile(KEYS, 'f.rec', Buffer.from('content'));
  const otherMagic = Buffer.from(sealed);
  otherMagic.write('SBR2', 0, 'latin1');

  // Act and assess
  t.equal(openFile(KEYS, 'f.rec', otherMagic), undefined);
});

t.test('a damaged byte anywhere in the file makes it unreadable rather than wrong', async (t) => {
  // Prepare
  const sealed = sealFile(KEYS, 'f.rec', Buffer.from('content that matters'));

  for (const [where, offset] of [
    ['IV', 4],
    ['ciphertext', HEADER_BYTES],
    ['tag', sealed.length - 1],
  ] as const) {
    const damaged = Buffer.from(sealed);
    damaged[offset] = (damaged[offset] as number) ^ 0x01;

    // Act and assess
    t.equal(openFile(KEYS, 'f.rec', damaged), undefined, where);
  }
});

t.test('a record file copied under another name does not open', async (t) => {
  // Prepare
  const { fileName, sealed } = sealRecord(KEYS, record('a'));
  const otherName = recordFileName(KEYS, 'b');

  // Act
  const err = errorOf(() => openRecord(KEYS, otherName, sealed, "secret 'b'"));

  // Assess
  t.not(otherName, fileName);
  t.equal(err.code, 'backend_error');
  t.match(err.message, /secret 'b' cannot be decrypted: it is damaged or was written with another key/);
});

t.test('a record sealed with another key does not open', async (t) => {
  // Prepare
  const fileName = recordFileName(KEYS, 'a');
  const sealed = sealFile(OTHER_KEYS, fileName, Buffer.from(JSON.stringify(record('a'))));

  // Act
  const err = errorOf(() => openRecord(KEYS, fileName, sealed, "secret 'a'"));

  // Assess
  t.equal(err.code, 'backend_error');
  t.match(err.message, 'cannot be decrypted');
});

t.test(
  'a decryptable file that is not JSON is a backend_error naming the record, with the parse error as cause',
  async (t) => {
    // Prepare
    const fileName = recordFileName(KEYS, 'a');
    const sealed = sealFile(KEYS, fileName, Buffer.from('{"value": "hunter2", '));

    // Act
    const err = errorOf(() => openRecord(KEYS, fileName, sealed, "secret 'a'"));

    // Assess
    t.equal(err.code, 'backend_error');
    t.match(err.message, "file store record of secret 'a' is not valid JSON");
    t.notMatch(err.message, 'hunter2');
    t.ok(err.cause instanceof SyntaxError);
  },
);

t.test('a decryptable record of the wrong shape is a backend_error, never trusted', async (t) => {
  // Prepare
  const fileName = recordFileName(KEYS, 'a');
  const shapeless = { ...record('a'), versions: [] };
  const sealed = sealFile(KEYS, fileName, Buffer.from(JSON.stringify(shapeless)));

  // Act
  const err = errorOf(() => openRecord(KEYS, fileName, sealed, "secret 'a'"));

  // Assess
  t.equal(err.code, 'backend_error');
  t.match(err.message, "file store record of secret 'a' has an unexpected shape");
});

t.test('a record whose id belongs to another file is refused, so one file cannot answer for another id', async (t) => {
  // Prepare: a well-formed record of 'b', sealed under the file name of 'a'.
  const fileName = recordFileName(KEYS, 'a');
  const sealed = sealFile(KEYS, fileName, Buffer.from(JSON.stringify(record('b'))));

  // Act
  const err = errorOf(() => openRecord(KEYS, fileName, sealed, "secret 'a'"));

  // Assess
  t.equal(err.code, 'backend_error');
  t.match(err.message, 'unexpected shape');
});

t.test('a record file name is a keyed hash of the id: stable for a key, different for another key or id', async (t) => {
  // Act
  const name = recordFileName(KEYS, 'prod/db');

  // Assess
  t.match(name, /^[0-9a-f]{64}\.rec$/);
  t.equal(recordFileName(KEYS, 'prod/db'), name);
  t.not(recordFileName(KEYS, 'prod/dc'), name);
  t.not(recordFileName(OTHER_KEYS, 'prod/db'), name);
});

t.test('only record file names count as records: not the check file, temp files or look-alikes', async (t) => {
  // Prepare
  const real = recordFileName(KEYS, 'x');
  const hex = randomBytes(32).toString('hex');

  // Act and assess
  t.ok(isRecordFileName(real));
  t.ok(isRecordFileName(`${hex}.rec`));
  for (const name of [
    'store-check',
    `${real}.1234.tmp`,
    `tmp.${real}`,
    `${hex.slice(1)}.rec`,
    `${hex}0.rec`,
    `${hex.toUpperCase()}.rec`,
    `${hex}.rec2`,
    `${hex}.REC`,
    `${hex}rec`,
  ]) {
    t.notOk(isRecordFileName(name), name);
  }
});
