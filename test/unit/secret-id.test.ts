import { Buffer } from 'node:buffer';
import t from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { assertValidId, assertValidMetadata, assertValidValue } from '../../agent/broker/secret-id.js';
import {
  MAX_DESCRIPTION_LENGTH,
  MAX_ID_LENGTH,
  MAX_TAG_KEY_LENGTH,
  MAX_TAG_VALUE_LENGTH,
  MAX_TAGS,
  MAX_VALUE_BYTES,
} from '../../agent/secret-limits.js';

/** The SecretError code `fn` throws, or 'none'. */
function codeOf(fn: () => void): string {
  try {
    fn();
    return 'none';
  } catch (err) {
    return err instanceof SecretError ? err.code : `not a SecretError: ${String(err)}`;
  }
}

/** The message of the error `fn` throws, or '' when it throws none. */
function messageOf(fn: () => void): string {
  try {
    fn();
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

t.test('ids of the AWS name alphabet with clean segments are accepted', async (t) => {
  // Prepare
  const ids = [
    'a',
    'prod/db/password',
    'ABC-xyz_09+=.@',
    'a.b/c..d/.hidden/..x',
    'x'.repeat(MAX_ID_LENGTH),
    `${'s/'.repeat(255)}ab`,
  ];

  // Act and assess
  for (const id of ids)
    t.equal(
      codeOf(() => assertValidId(id)),
      'none',
      `${id.slice(0, 40)} is valid`,
    );
});

t.test('ids outside the rules are invalid_id', async (t) => {
  // Prepare
  const ids: Record<string, string> = {
    empty: '',
    'too long': 'x'.repeat(MAX_ID_LENGTH + 1),
    'leading slash': '/prod/db',
    'trailing slash': 'prod/db/',
    'double slash': 'prod//db',
    'dot segment': 'prod/./db',
    'dot-dot segment': 'prod/../db',
    'leading dot segment': './db',
    'trailing dot-dot segment': 'prod/..',
    'only dot-dot': '..',
    space: 'prod db',
    percent: 'prod%2Fdb',
    backslash: 'prod\\db',
    colon: 'arn:aws',
    asterisk: 'prod/*',
    'non-ASCII letter': 'prüfung',
    newline: 'prod\ndb',
  };

  // Act and assess
  for (const [why, id] of Object.entries(ids))
    t.equal(
      codeOf(() => assertValidId(id)),
      'invalid_id',
      why,
    );
});

t.test('the invalid_id message states the rule, not just that the id is wrong', async (t) => {
  // Act
  let message = '';
  try {
    assertValidId('a//b');
  } catch (err) {
    message = (err as Error).message;
  }

  // Assess
  t.match(message, /'\/\/'/);
});

t.test('each invalid_id message names the rule that id broke', async (t) => {
  // Prepare: a caller fixes the id from the message alone, so it must name the broken rule.
  const cases: [string, string, RegExp][] = [
    ['empty', '', /it is empty/],
    ['too long', 'x'.repeat(MAX_ID_LENGTH + 1), new RegExp(`longer than ${MAX_ID_LENGTH} characters`)],
    ['bad character', 'prod db', /allowed characters are/],
    ['leading slash', '/prod/db', /may not start or end with \//],
    ['trailing slash', 'prod/db/', /may not start or end with \//],
    ['dot segment', 'prod/./db', /'\.' or '\.\.' segment/],
  ];

  for (const [why, id, rule] of cases) {
    // Act
    const message = messageOf(() => assertValidId(id));

    // Assess
    t.match(message, rule, why);
  }
});

t.test('value errors name the rule: base64 that does not decode, and the size limit of a base64 value', async (t) => {
  // Act
  const notBase64 = messageOf(() => assertValidValue('YQ', 'base64'));
  const tooLarge = messageOf(() => assertValidValue(Buffer.alloc(MAX_VALUE_BYTES + 1).toString('base64'), 'base64'));

  // Assess
  t.match(notBase64, /not valid base64/);
  t.match(tooLarge, `larger than ${MAX_VALUE_BYTES} bytes`);
});

t.test('a text value is measured in UTF-8 bytes, not characters', async (t) => {
  // Prepare: 2-, 3- and 4-byte characters; the 4-byte one is two UTF-16 units in JavaScript.
  const cases: [string, string, number][] = [
    ['ASCII', 'a', 1],
    ['2-byte', 'é', 2],
    ['3-byte', '€', 3],
    ['4-byte', '😀', 4],
  ];

  for (const [name, ch, bytes] of cases) {
    const atLimit = ch.repeat(Math.floor(MAX_VALUE_BYTES / bytes)) + 'a'.repeat(MAX_VALUE_BYTES % bytes);
    const overLimit = `${atLimit}a`;

    // Act and assess
    t.equal(Buffer.byteLength(atLimit, 'utf8'), MAX_VALUE_BYTES, `${name}: fixture is exactly at the limit`);
    t.equal(
      codeOf(() => assertValidValue(atLimit, 'utf8')),
      'none',
      `${name}: ${MAX_VALUE_BYTES} bytes is allowed`,
    );
    t.equal(
      codeOf(() => assertValidValue(overLimit, 'utf8')),
      'payload_too_large',
      `${name}: one byte more is not`,
    );
  }
});

t.test('a short multibyte value whose character count is under the limit but bytes are over is refused', async (t) => {
  // Prepare: 30,000 characters, 90,000 bytes.
  const value = '€'.repeat(30_000);

  // Act and assess
  t.equal(
    codeOf(() => assertValidValue(value, 'utf8')),
    'payload_too_large',
  );
});

t.test('a base64 value is measured by its decoded bytes', async (t) => {
  // Prepare
  const atLimit = Buffer.alloc(MAX_VALUE_BYTES, 0xab).toString('base64');
  const overLimit = Buffer.alloc(MAX_VALUE_BYTES + 1, 0xab).toString('base64');

  // Act and assess
  t.ok(atLimit.length > MAX_VALUE_BYTES, 'the encoded text itself is longer than the limit');
  t.equal(
    codeOf(() => assertValidValue(atLimit, 'base64')),
    'none',
  );
  t.equal(
    codeOf(() => assertValidValue(overLimit, 'base64')),
    'payload_too_large',
  );
});

t.test('a base64 value must be padded standard base64', async (t) => {
  // Prepare
  const valid = ['', 'YQ==', 'YWI=', 'YWJj', 'AAECAwQF/+8='];
  const invalid = ['YQ', 'YWJ', 'YW=j', 'ab!=', 'a-_b', 'YQ==YQ==', ' YQ=='];

  // Act and assess
  for (const v of valid)
    t.equal(
      codeOf(() => assertValidValue(v, 'base64')),
      'none',
      `'${v}' is base64`,
    );
  for (const v of invalid)
    t.equal(
      codeOf(() => assertValidValue(v, 'base64')),
      'invalid_request',
      `'${v}' is not`,
    );
});

t.test('a text value is never judged as base64', async (t) => {
  // Act and assess
  t.equal(
    codeOf(() => assertValidValue('not base64 at all!', 'utf8')),
    'none',
  );
  t.equal(
    codeOf(() => assertValidValue('', 'utf8')),
    'none',
  );
});

t.test('size errors do not repeat the value', async (t) => {
  // Prepare
  const value = `hunter2-${'x'.repeat(MAX_VALUE_BYTES)}`;

  // Act
  let message = '';
  try {
    assertValidValue(value, 'utf8');
  } catch (err) {
    message = (err as Error).message;
  }

  // Assess
  t.notMatch(message, /hunter2/);
  t.match(message, String(MAX_VALUE_BYTES));
});

/** `count` tags named k0, k1, ... */
function manyTags(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v']));
}

t.test('tags within the bounds every backend stores are accepted', async (t) => {
  // Prepare
  const cases: Record<string, Record<string, string>> = {
    none: {},
    [`${MAX_TAGS} tags`]: manyTags(MAX_TAGS),
    'longest key': { ['k'.repeat(MAX_TAG_KEY_LENGTH)]: 'v' },
    'longest value': { k: 'v'.repeat(MAX_TAG_VALUE_LENGTH) },
    'empty value': { k: '' },
  };

  // Act and assess
  for (const [why, tags] of Object.entries(cases)) {
    t.equal(
      codeOf(() => assertValidMetadata({ tags })),
      'none',
      why,
    );
  }
});

t.test('more than 50 tags, an empty or long key, or a long value is invalid_request', async (t) => {
  // Prepare
  const cases: Record<string, [Record<string, string>, RegExp]> = {
    'too many tags': [manyTags(MAX_TAGS + 1), /at most 50 tags/],
    'empty key': [{ '': 'v' }, /key is empty/],
    'key too long': [{ ['k'.repeat(MAX_TAG_KEY_LENGTH + 1)]: 'v' }, /longer than 128/],
    'value too long': [{ team: 'v'.repeat(MAX_TAG_VALUE_LENGTH + 1) }, /tag 'team' is longer than 256/],
  };

  for (const [why, [tags, message]] of Object.entries(cases)) {
    // Act
    let err: unknown;
    try {
      assertValidMetadata({ tags });
    } catch (e) {
      err = e;
    }

    // Assess
    t.ok(err instanceof SecretError && err.code === 'invalid_request', `${why}: invalid_request`);
    t.match((err as Error).message, message, `${why}: the message states the rule`);
  }
});

t.test('a description longer than 2048 characters is invalid_request', async (t) => {
  // Act and assess
  t.equal(
    codeOf(() => assertValidMetadata({ description: 'd'.repeat(MAX_DESCRIPTION_LENGTH) })),
    'none',
  );
  t.equal(
    codeOf(() => assertValidMetadata({ description: 'd'.repeat(MAX_DESCRIPTION_LENGTH + 1) })),
    'invalid_request',
  );
});
