/**
 * The client verbs as processes against a real broker on the file backend, found at its default
 * socket under the working directory: exit codes, values byte for byte through pipes and stdin,
 * binary values, ls filters, usage errors and --help.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import t from 'tap';
import { type FileBroker, startFileBroker } from '../client/file-broker.js';
import { runCli } from './run-cli.js';

const VERBS = ['get', 'put', 'create', 'ls', 'rm', 'restore', 'watch'];

let broker: FileBroker;
t.before(async () => {
  broker = await startFileBroker(t);
});
const cli = (args: string[], input?: string | Buffer) => runCli(args, { cwd: broker.dir, input });

t.test('create, get, put and rm exit 0, with the value alone on stdout', async (t) => {
  // Act
  const created = await cli(['create', 'app/db', 'first value', '--description', 'the db', '--tag', 'team=core']);
  const value = await cli(['get', 'app/db']);
  const whole = await cli(['get', 'app/db', '--json']);
  const fromStdin = await cli(['put', 'app/db'], 'line one\nline two\n');
  const afterStdin = await cli(['get', 'app/db']);
  const fromDash = await cli(['put', 'app/db', '-'], 'dash');
  const older = await cli(['get', 'app/db', '--version', created.stdout.toString().trim()]);
  const removed = await cli(['rm', 'app/db']);
  const gone = await cli(['get', 'app/db']);

  // Assess
  t.same([created.code, created.stderr], [0, ''], 'create exits 0');
  t.match(created.stdout.toString(), /^\S+\n$/, 'create prints the new version');
  t.equal(value.stdout.toString(), 'first value', 'get prints the value alone, no newline added to a pipe');
  t.match(JSON.parse(whole.stdout.toString()), { id: 'app/db', value: 'first value', tags: { team: 'core' } });
  t.equal(fromStdin.code, 0);
  t.equal(afterStdin.stdout.toString(), 'line one\nline two\n', 'put stored stdin byte for byte');
  t.equal(fromDash.code, 0);
  t.equal(older.stdout.toString(), 'first value', 'get --version reads an older version');
  t.same([removed.code, removed.stdout.length], [0, 0], 'rm exits 0 quietly');
  t.equal(gone.code, 1, 'a removed secret is gone');
});

t.test('a binary value goes in as base64 and comes out of get as raw bytes', async (t) => {
  // Prepare
  const bytes = Buffer.concat([Buffer.from([0x00, 0xff, 0xfe, 0x0a]), randomBytes(300)]);

  // Act
  const created = await cli(['create', 'bin/key', '--base64', bytes.toString('base64')]);
  const raw = await cli(['get', 'bin/key']);
  const wrapped = await cli(
    ['create', 'bin/wrapped', '--base64'],
    `${bytes.toString('base64').replace(/.{76}/g, '$&\n')}\n`,
  );
  const wrappedRaw = await cli(['get', 'bin/wrapped']);
  const fromStdin = await cli(['create', 'bin/stdin'], bytes);
  const stored = await cli(['get', 'bin/stdin', '--json']);

  // Assess
  t.equal(created.code, 0);
  t.ok(raw.stdout.equals(bytes), 'the same bytes out of the pipe');
  t.same([wrapped.code, wrappedRaw.stdout.equals(bytes)], [0, true], 'base64 wrapped in lines, from stdin');
  t.equal(fromStdin.code, 0);
  t.match(
    JSON.parse(stored.stdout.toString()),
    { encoding: 'base64', value: bytes.toString('base64') },
    'stdin bytes that are not UTF-8 are stored as binary',
  );
});

t.test('an API error exits 1 with the problem detail on one stderr line and leaves the value', async (t) => {
  // Prepare
  const first = (await cli(['create', 'err/key', 'v1'])).stdout.toString().trim();
  await cli(['put', 'err/key', 'v2']);

  // Act
  const stale = await cli(['put', 'err/key', 'v3', '--if-match', first]);
  const missing = await cli(['get', 'err/none']);
  const taken = await cli(['create', 'err/key', 'again']);
  const staleRm = await cli(['rm', 'err/key', '--if-match', first]);
  const value = await cli(['get', 'err/key']);

  // Assess
  for (const [result, code] of [
    [stale, 'precondition_failed'],
    [missing, 'not_found'],
    [taken, 'already_exists'],
    [staleRm, 'precondition_failed'],
  ] as const) {
    t.equal(result.code, 1, `${code}: exit 1`);
    t.match(result.stderr, new RegExp(`^secrets-broker \\w+: [^\\n]+ \\(${code}\\)\\n$`), `${code}: one line`);
    t.equal(result.stdout.length, 0, `${code}: nothing on stdout`);
  }
  t.match(missing.stderr, /err\/none/, 'the detail names the id');
  t.equal(value.stdout.toString(), 'v2', 'the refused writes left the value');
});

t.test('ls prints one id per line, filtered, and --json one metadata object per line', async (t) => {
  // Prepare
  for (const id of ['ls/a/1', 'ls/a/2', 'ls/b/1']) await cli(['create', id, `secret ${id}`]);

  // Act
  const filtered = await cli(['ls', '^ls/a/']);
  const all = await cli(['ls']);
  const json = await cli(['ls', '^ls/', '--json']);

  // Assess
  t.same([filtered.code, filtered.stdout.toString()], [0, 'ls/a/1\nls/a/2\n']);
  t.ok(
    ['ls/a/1', 'ls/a/2', 'ls/b/1'].every((id) => all.stdout.toString().split('\n').includes(id)),
    'no filter: all',
  );
  const items = json.stdout
    .toString()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  t.same(
    items.map((item) => item.id),
    ['ls/a/1', 'ls/a/2', 'ls/b/1'],
  );
  t.notOk(json.stdout.toString().includes('secret ls/'), 'no value in a list');
});

t.test('a usage error exits 2 with one sentence naming the argument', async (t) => {
  const cases: [string[], RegExp][] = [
    [['get'], /missing the ID argument/],
    [['get', 'x', '--bogus'], /unknown option '--bogus'/],
    [['get', 'x', '--version'], /option '--version' needs a value/],
    [['rm', 'x', '--force=yes'], /option '--force' takes no value/],
    [['get', 'x', 'y'], /unexpected argument 'y'/],
    [['ls', 'a', 'b'], /unexpected argument 'b'/],
    [['create', 'x', 'v', '--tag', 'novalue'], /--tag 'novalue' must be KEY=VALUE/],
    [['put', 'x', '--base64', '!!'], /not valid base64 \(--base64\)/],
  ];
  for (const [args, message] of cases) {
    // Act
    const result = await cli(args);

    // Assess
    t.equal(result.code, 2, `${args.join(' ')}: exit 2`);
    t.match(result.stderr, message, `${args.join(' ')}: names the argument`);
    t.match(result.stderr, new RegExp(`^secrets-broker ${args[0]}: [^\\n]+\\.\\n$`), `${args.join(' ')}: one sentence`);
    t.equal(result.stdout.length, 0);
  }
});

t.test('--help on every verb prints its usage and exits 0', async (t) => {
  for (const verb of VERBS) {
    // Act
    const result = await cli([verb, '--help']);

    // Assess
    t.equal(result.code, 0, `${verb} --help exits 0`);
    t.match(result.stdout.toString(), new RegExp(`^Usage: secrets-broker ${verb} `), `${verb} --help`);
    t.match(result.stdout.toString(), /SECRETS_BROKER_SOCKET/);
  }
  t.match((await cli(['--help'])).stdout.toString(), /get\|put\|create\|ls\|rm\|restore\|watch/, 'main usage');
});

t.test('an unreachable broker exits 1 naming the socket', async (t) => {
  // Act
  const result = await runCli(['get', 'x'], {
    cwd: broker.dir,
    env: { SECRETS_BROKER_SOCKET: path.join(broker.dir, 'none.sock'), SECRETS_BROKER_TOKEN_FILE: broker.tokenFile },
  });

  // Assess
  t.equal(result.code, 1);
  t.match(
    result.stderr,
    /^secrets-broker get: cannot reach the broker at .*none\.sock: ENOENT \(connection_failed\)\n$/,
  );
});
