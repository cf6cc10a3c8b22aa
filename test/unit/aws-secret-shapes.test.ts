/**
 * The pure conversions of the AWS backend: values and encodings, request tokens, tag changes,
 * versions and name filters.
 */
import t from 'tap';
import {
  clientRequestToken,
  currentVersion,
  describedSecret,
  fromAwsTags,
  isVersionId,
  nameFilter,
  readValue,
  tagChanges,
  valueFields,
} from '../../agent/backends/aws-secrets-manager/secret-shapes.js';

t.test('a base64 value is written as SecretBinary bytes and read back as the same base64', async (t) => {
  // Prepare
  const value = Buffer.from([0, 255, 128, 7]).toString('base64');

  // Act
  const fields = valueFields(value, 'base64');
  const read = readValue({ SecretBinary: (fields as { SecretBinary: Buffer }).SecretBinary });

  // Assess
  t.notOk('SecretString' in fields);
  t.same(read, { value, encoding: 'base64' });
});

t.test('a text value is written as SecretString and read back as utf8', async (t) => {
  // Act
  const fields = valueFields('héllo', 'utf8');
  const read = readValue({ SecretString: 'héllo' });

  // Assess
  t.same(fields, { SecretString: 'héllo' });
  t.same(read, { value: 'héllo', encoding: 'utf8' });
});

t.test('request tokens AWS accepts are kept; others become a stable 64-character hash', async (t) => {
  // Act
  const uuid = clientRequestToken('0f8fad5b-d9cb-469f-a165-70867728950e');
  const short = clientRequestToken('abc');
  const again = clientRequestToken('abc');

  // Assess
  t.equal(uuid, '0f8fad5b-d9cb-469f-a165-70867728950e');
  t.match(short, /^[0-9a-f]{64}$/);
  t.equal(again, short);
  t.equal(clientRequestToken(undefined), undefined);
});

t.test('only strings AWS could have issued count as version ids', async (t) => {
  // Assess
  t.ok(isVersionId('0f8fad5b-d9cb-469f-a165-70867728950e'));
  t.notOk(isVersionId('1'));
  t.notOk(isVersionId('x'.repeat(65)));
  t.notOk(isVersionId(`${'a'.repeat(31)}/`));
});

t.test('tagChanges sets new and changed keys and removes dropped ones', async (t) => {
  // Act
  const changes = tagChanges({ keep: '1', change: 'old', drop: 'x' }, { keep: '1', change: 'new', add: 'y' });

  // Assess
  t.same(changes, { set: { change: 'new', add: 'y' }, remove: ['drop'] });
  t.same(tagChanges(undefined, {}), { set: {}, remove: [] });
});

t.test('the current version is the one staged AWSCURRENT, or empty when there is none', async (t) => {
  // Assess
  t.equal(currentVersion({ old: ['AWSPREVIOUS'], cur: ['AWSCURRENT'] }), 'cur');
  t.equal(currentVersion({ pending: ['AWSPENDING'] }), '');
  t.equal(currentVersion(undefined), '');
});

t.test('a name filter is sent only for a prefix AWS can express', async (t) => {
  // Assess
  t.same(nameFilter('prod/db-1'), [{ Key: 'name', Values: ['prod/db-1'] }]);
  t.equal(nameFilter(''), undefined);
  t.equal(nameFilter(undefined), undefined);
  t.equal(nameFilter('!prod'), undefined, 'a leading ! would negate the filter');
});

t.test('describedSecret reports pendingDeletion, dates and tags, and utf8 as the encoding', async (t) => {
  // Prepare
  const created = new Date('2024-01-02T03:04:05Z');

  // Act
  const described = describedSecret('a', {
    Name: 'a',
    Description: 'd',
    Tags: [{ Key: 'k', Value: 'v' }],
    CreatedDate: created,
    LastChangedDate: created,
    DeletedDate: created,
    VersionIdsToStages: { v1: ['AWSCURRENT'] },
  });

  // Assess
  t.same(described, {
    id: 'a',
    version: 'v1',
    encoding: 'utf8',
    description: 'd',
    tags: { k: 'v' },
    createdAt: created.toISOString(),
    updatedAt: created.toISOString(),
    pendingDeletion: true,
  });
  t.equal(fromAwsTags([]), undefined);
});
