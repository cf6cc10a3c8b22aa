import t from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { compileIdPattern, compileListFilter, literalPrefix, MAX_FILTER_LENGTH } from '../../agent/broker/id-filter.js';

function filterErrorCode(source: string): string {
  try {
    compileListFilter(source);
    return 'none';
  } catch (err) {
    return err instanceof SecretError ? err.code : `not a SecretError: ${String(err)}`;
  }
}

t.test('a filter matches anywhere in the id unless anchored', async (t) => {
  // Prepare
  const ids = ['prod/db/password', 'dev/db/password', 'prod/api/key', 'legacy-prod/db'];
  const matching = (source: string) => ids.filter((id) => compileListFilter(source).test(id));

  // Act and assess
  t.same(matching('db'), ['prod/db/password', 'dev/db/password', 'legacy-prod/db']);
  t.same(matching('^prod/'), ['prod/db/password', 'prod/api/key']);
  t.same(matching('password$'), ['prod/db/password', 'dev/db/password']);
  t.same(matching('^prod/db$'), []);
  t.same(matching('^(prod|dev)/db/'), ['prod/db/password', 'dev/db/password']);
  t.same(matching('(?i)^PROD/'), ['prod/db/password', 'prod/api/key']);
  t.same(matching('x{3}'), []);
});

t.test('RE2 refuses what needs backtracking: backreferences and lookarounds are invalid_filter', async (t) => {
  // Act and assess
  t.equal(filterErrorCode('(a)\\1'), 'invalid_filter', 'backreference');
  t.equal(filterErrorCode('prod(?=/db)'), 'invalid_filter', 'lookahead');
  t.equal(filterErrorCode('prod(?!/db)'), 'invalid_filter', 'negative lookahead');
  t.equal(filterErrorCode('(?<=prod)/db'), 'invalid_filter', 'lookbehind');
});

t.test('syntax errors and oversized filters are invalid_filter', async (t) => {
  // Act and assess
  t.equal(filterErrorCode('['), 'invalid_filter');
  t.equal(filterErrorCode('(a'), 'invalid_filter');
  t.equal(filterErrorCode('*a'), 'invalid_filter');
  t.equal(filterErrorCode('a'.repeat(MAX_FILTER_LENGTH + 1)), 'invalid_filter');
  t.equal(filterErrorCode('a'.repeat(MAX_FILTER_LENGTH)), 'none', 'the longest allowed filter compiles');
});

t.test('a pattern that backtracks catastrophically elsewhere still answers correctly', async (t) => {
  // Prepare: in a backtracking engine '(a+)+$' on a long run of a's followed by '!' never finishes.
  const filter = compileListFilter('(a+)+$');
  const nested = compileListFilter('^(a|a)*$');
  const longRun = 'a'.repeat(5000);

  // Act and assess
  t.equal(filter.test(`${longRun}!`), false);
  t.equal(filter.test(longRun), true);
  t.equal(nested.test(`${longRun}!`), false);
  t.equal(nested.test(longRun), true);
});

t.test('compileIdPattern keeps the source and throws on an invalid pattern', async (t) => {
  // Act
  const pattern = compileIdPattern('^app/');

  // Assess
  t.equal(pattern.source, '^app/');
  t.ok(pattern.test('app/x'));
  t.notOk(pattern.test('myapp/x'));
  t.throws(() => compileIdPattern('a(?=b)'));
});

t.test('literalPrefix gives the text every match of an anchored filter starts with', async (t) => {
  // Prepare: [filter, expected prefix, why]
  const cases: [string, string, string][] = [
    ['^prod/db/', 'prod/db/', 'plain anchored literal'],
    ['^prod/d?b', 'prod/', 'an optional character is not part of the prefix'],
    ['^a|b', '', 'alternation at the top level may match without the prefix'],
    ['^prod/(db|api)/', '', 'alternation anywhere: conservative'],
    ['prod', '', 'unanchored'],
    ['^prod\\.x', 'prod.x', 'an escaped dot is a literal dot'],
    ['^prod\\/x', 'prod/x', 'an escaped slash is a literal slash'],
    ['^prod.x', 'prod', 'an unescaped dot is any character'],
    ['^(a)', '', 'a group at the front'],
    ['^ab*', 'a', 'zero or more: the starred character may be absent'],
    ['^ab+', 'ab', 'one or more: the character is there at least once'],
    ['^ab{0,1}', 'a', 'a counted repeat may be zero'],
    ['^a[bc]', 'a', 'a class ends the prefix'],
    ['^a\\d', 'a', 'a class escape ends the prefix'],
    ['^prod/db$', 'prod/db', 'the end anchor ends the prefix'],
    ['^a=b@c-d_e', 'a=b@c-d_e', 'id punctuation is literal'],
    ['^', '', 'only the anchor'],
  ];

  // Act and assess
  for (const [filter, expected, why] of cases) t.equal(literalPrefix(filter), expected, `${filter}: ${why}`);
});

t.test('every id a filter matches starts with its literal prefix', async (t) => {
  // Prepare: ids chosen to sit on each side of the prefix boundary.
  const ids = ['prod/db', 'prod/b', 'prod/dbx', 'prod.x', 'prodax', 'a', 'ab', 'abbb', 'b', 'ac', 'prod/db/x'];
  const filters = ['^prod/d?b', '^prod\\.x', '^prod.x', '^ab*', '^ab+', '^a|b', '^a[bc]', '^prod/db$'];

  // Act and assess
  for (const source of filters) {
    const prefix = literalPrefix(source);
    const filter = compileListFilter(source);
    for (const id of ids.filter((i) => filter.test(i))) {
      t.ok(id.startsWith(prefix), `${source} matches ${id}, which starts with '${prefix}'`);
    }
  }
});
