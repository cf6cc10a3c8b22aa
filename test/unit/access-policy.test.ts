import t from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { AccessPolicy, type PolicyVerb } from '../../agent/broker/access-policy.js';

const VERBS: PolicyVerb[] = ['read', 'list', 'create', 'update', 'delete'];

t.test('with no rules every verb may touch every id', async (t) => {
  // Prepare
  const policy = new AccessPolicy();

  // Act and assess
  for (const verb of VERBS) {
    t.equal(policy.allows(verb, 'prod/db/password'), true, verb);
    t.doesNotThrow(() => policy.assertAllowed(verb, 'anything'), verb);
  }
});

t.test('a verb with patterns is limited to ids matching one of them; other verbs stay open', async (t) => {
  // Prepare
  const policy = new AccessPolicy({ create: ['^app/', '^shared/tmp/'], delete: ['^app/'] });

  // Act and assess
  t.equal(policy.allows('create', 'app/key'), true);
  t.equal(policy.allows('create', 'shared/tmp/x'), true);
  t.equal(policy.allows('create', 'shared/prod'), false);
  t.equal(policy.allows('create', 'prod/app/key'), false, 'anchored: app/ must be at the start');
  t.equal(policy.allows('delete', 'shared/tmp/x'), false, 'each verb has its own patterns');
  t.equal(policy.allows('read', 'prod/db'), true, 'a verb without rules is open');
  t.equal(policy.allows('update', 'prod/db'), true);
});

t.test('an unanchored pattern matches anywhere in the id, as the list filter does', async (t) => {
  // Prepare
  const policy = new AccessPolicy({ read: ['db'] });

  // Act and assess
  t.equal(policy.allows('read', 'prod/db/password'), true);
  t.equal(policy.allows('read', 'prod/api/key'), false);
});

t.test('an empty pattern list allows nothing for that verb', async (t) => {
  // Prepare
  const policy = new AccessPolicy({ delete: [] });

  // Act and assess
  t.equal(policy.allows('delete', 'app/x'), false);
  t.equal(policy.allows('read', 'app/x'), true);
});

t.test('assertAllowed throws 403 forbidden naming the verb and the id', async (t) => {
  // Prepare
  const policy = new AccessPolicy({ update: ['^app/'] });

  // Act
  let caught: unknown;
  try {
    policy.assertAllowed('update', 'prod/db');
  } catch (err) {
    caught = err;
  }

  // Assess
  t.ok(caught instanceof SecretError);
  t.equal((caught as SecretError).code, 'forbidden');
  t.match((caught as Error).message, /update/);
  t.match((caught as Error).message, /prod\/db/);
});

t.test('an invalid pattern is refused when the policy is built', async (t) => {
  // Act and assess
  t.throws(() => new AccessPolicy({ read: ['^app/', 'a(?=b)'] }));
});
