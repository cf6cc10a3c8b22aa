import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { callerAuthHook, ensureCallerToken } from '../../agent/http/caller-auth.js';
import { sendProblem } from '../../agent/http/problem.js';

const TOKEN = 'caller-token-0123456789abcdef';

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-auth-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An app with the API listeners' auth hook and error mapping, and one route of each kind. */
async function buildAuthApp(t: Test): Promise<FastifyInstance> {
  const app = Fastify();
  app.setErrorHandler((err, request, reply) => sendProblem(request, reply, err));
  app.addHook('onRequest', callerAuthHook(TOKEN));
  for (const url of ['/healthz', '/readyz', '/metrics', '/secrets/*']) app.get(url, async () => ({ reached: url }));
  await app.ready();
  t.teardown(() => app.close());
  return app;
}

t.test('ensureCallerToken writes a new random token with mode 0640 when the file is absent', async (t) => {
  // Prepare: a umask that would narrow the mode must not change it.
  const file = path.join(await tempDir(t), 'shared', 'token');
  const umask = process.umask(0o077);
  t.teardown(() => void process.umask(umask));

  // Act
  const token = await ensureCallerToken(file);

  // Assess
  t.ok(token.length >= 32, 'long enough to guess never');
  t.match(token, /^[A-Za-z0-9_-]+$/, 'safe in a header and a shell');
  t.equal((await readFile(file, 'utf8')).trim(), token);
  t.equal((await stat(file)).mode & 0o777, 0o640);
});

t.test('two fresh token files get different tokens', async (t) => {
  // Prepare
  const dir = await tempDir(t);

  // Act
  const a = await ensureCallerToken(path.join(dir, 'a'));
  const b = await ensureCallerToken(path.join(dir, 'b'));

  // Assess
  t.not(a, b);
});

t.test('ensureCallerToken reuses an existing token, so a restarted broker keeps callers working', async (t) => {
  // Prepare
  const file = path.join(await tempDir(t), 'token');
  const first = await ensureCallerToken(file);

  // Act
  const second = await ensureCallerToken(file);

  // Assess
  t.equal(second, first);
});

t.test('ensureCallerToken reads a token written by someone else, trimming the newline', async (t) => {
  // Prepare
  const file = path.join(await tempDir(t), 'token');
  await writeFile(file, `  ${TOKEN}\n`);

  // Act and assess
  t.equal(await ensureCallerToken(file), TOKEN);
});

t.test('ensureCallerToken refuses a token file that is too short rather than overwrite it', async (t) => {
  // Prepare
  const file = path.join(await tempDir(t), 'token');
  await writeFile(file, 'short\n');

  // Act and assess
  await t.rejects(ensureCallerToken(file), /fewer than 16/);
  t.equal(await readFile(file, 'utf8'), 'short\n', 'the file is left alone');
});

t.test('concurrent first starts agree on one token', async (t) => {
  // Prepare
  const file = path.join(await tempDir(t), 'token');

  // Act
  const tokens = await Promise.all(Array.from({ length: 8 }, () => ensureCallerToken(file)));

  // Assess
  t.equal(new Set(tokens).size, 1);
  t.equal((await readFile(file, 'utf8')).trim(), tokens[0]);
});

t.test('ensureCallerToken reports a directory at the token path instead of replacing it', async (t) => {
  // Prepare: a directory where the file should be.
  const file = path.join(await tempDir(t), 'token');
  await mkdir(file);

  // Act and assess
  await t.rejects(ensureCallerToken(file), { message: `token file ${file} is not a regular file` });
});

t.test('a token of 16 characters is accepted and one of 15 is refused', async (t) => {
  // Prepare
  const dir = await tempDir(t);
  const sixteen = path.join(dir, 'sixteen');
  const fifteen = path.join(dir, 'fifteen');
  await writeFile(sixteen, `${'a'.repeat(16)}\n`);
  await writeFile(fifteen, `${'a'.repeat(15)}\n`);

  // Act and assess
  t.equal(await ensureCallerToken(sixteen), 'a'.repeat(16));
  await t.rejects(ensureCallerToken(fifteen), /fewer than 16 characters/);
});

t.test('a dangling symbolic link at the token path is refused at once, naming the path, leaving nothing', async (t) => {
  // Prepare: the link points where a token file could be created.
  const dir = await tempDir(t);
  const file = path.join(dir, 'token');
  await symlink(path.join(dir, 'elsewhere'), file);

  // Act
  const failure = await ensureCallerToken(file).then(
    () => undefined,
    (err: Error) => err,
  );

  // Assess
  t.match(failure?.message, `token file ${file} is a symbolic link`);
  t.same((await readdir(dir)).sort(), ['token'], 'no temp file left, nothing created through the link');
  t.equal(await readlink(file), path.join(dir, 'elsewhere'), 'the link is left as it was');
});

t.test('a symbolic link to another file never makes that file the token', async (t) => {
  // Prepare: a file whose content would pass as a token.
  const dir = await tempDir(t);
  const other = path.join(dir, 'other.conf');
  await writeFile(other, 'database-password-that-is-long-enough\n');
  const file = path.join(dir, 'token');
  await symlink(other, file);

  // Act and assess
  await t.rejects(ensureCallerToken(file), { message: /is a symbolic link/ });
  t.equal(await readFile(other, 'utf8'), 'database-password-that-is-long-enough\n');
});

t.test('a token path that cannot be opened reports the system error, not a symbolic link', async (t) => {
  // Prepare: the parent of the token path is a regular file, so opening the path fails with ENOTDIR.
  const parent = path.join(await tempDir(t), 'not-a-dir');
  await writeFile(parent, 'x');

  // Act and assess
  await t.rejects(ensureCallerToken(path.join(parent, 'token')), { code: 'ENOTDIR' });
});

t.test('reading the token leaves no file open, however often the broker starts', async (t) => {
  // Prepare
  const dir = await tempDir(t);
  const good = path.join(dir, 'token');
  const short = path.join(dir, 'short');
  await writeFile(good, `${TOKEN}\n`);
  await writeFile(short, 'too-short\n');
  const openBefore = readdirSync('/proc/self/fd').length;

  // Act
  for (let start = 0; start < 20; start++) {
    await ensureCallerToken(good);
    await ensureCallerToken(short).catch(() => undefined);
  }

  // Assess
  t.equal(readdirSync('/proc/self/fd').length, openBefore);
});

t.test('an existing token is read without writing anything beside it, as on a read-only volume', async (t) => {
  // Prepare: a name whose temp file name would be too long, so any write beside it fails.
  const file = path.join(await tempDir(t), 't'.repeat(250));
  await writeFile(file, `${TOKEN}\n`);

  // Act
  const token = await ensureCallerToken(file);

  // Assess
  t.equal(token, TOKEN);
});

t.test('a token file that cannot be written is reported at once, not retried', async (t) => {
  // Prepare: a name the file system takes, but whose temp file name is too long to create.
  const file = path.join(await tempDir(t), 't'.repeat(250));

  // Act and assess
  await t.rejects(ensureCallerToken(file), { code: 'ENAMETOOLONG' });
});

t.test('creating the token leaves no temp file behind, alone or racing other brokers', async (t) => {
  // Prepare
  const alone = await tempDir(t);
  const racing = await tempDir(t);

  // Act
  await ensureCallerToken(path.join(alone, 'token'));
  await Promise.all(Array.from({ length: 8 }, () => ensureCallerToken(path.join(racing, 'token'))));

  // Assess
  t.same(await readdir(alone), ['token']);
  t.same(await readdir(racing), ['token']);
});

t.test('a request with the right bearer token passes', async (t) => {
  // Prepare
  const app = await buildAuthApp(t);

  // Act
  const response = await app.inject({ url: '/secrets/prod/db', headers: { authorization: `Bearer ${TOKEN}` } });
  const lowerCase = await app.inject({ url: '/secrets/prod/db', headers: { authorization: `bearer ${TOKEN}` } });

  // Assess
  t.equal(response.statusCode, 200);
  t.equal(lowerCase.statusCode, 200, 'the scheme is case-insensitive');
});

t.test('a missing, wrong or malformed token is 401 unauthorized', async (t) => {
  // Prepare
  const app = await buildAuthApp(t);
  const headers: Record<string, Record<string, string>> = {
    missing: {},
    wrong: { authorization: 'Bearer caller-token-0123456789abcdeX' },
    'a prefix of the token': { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
    'the token and more': { authorization: `Bearer ${TOKEN}x` },
    'no scheme': { authorization: TOKEN },
    'basic scheme': { authorization: `Basic ${TOKEN}` },
    'two tokens': { authorization: `Bearer ${TOKEN} ${TOKEN}` },
    empty: { authorization: 'Bearer ' },
  };

  for (const [why, header] of Object.entries(headers)) {
    // Act
    const response = await app.inject({ url: '/secrets/prod/db', headers: header });

    // Assess
    t.equal(response.statusCode, 401, why);
    t.equal(response.json().code, 'unauthorized', why);
    t.notMatch(response.body, TOKEN, `${why}: the token is not echoed`);
  }
});

t.test('the 401 and 403 answers say what the caller must change', async (t) => {
  // Prepare
  const app = await buildAuthApp(t);

  // Act
  const noToken = await app.inject({ url: '/secrets/prod/db' });
  const proxied = await app.inject({
    url: '/secrets/prod/db',
    headers: { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': '10.0.0.7' },
  });

  // Assess
  t.equal(noToken.json().detail, 'a valid Authorization: Bearer token is required');
  t.equal(proxied.json().detail, 'requests carrying X-Forwarded-For are refused');
});

t.test('a header as long as the right one but with a non-ASCII character is 401, not a server error', async (t) => {
  // Prepare: the same number of characters as `Bearer <token>`, but one more byte in UTF-8.
  const app = await buildAuthApp(t);
  const authorization = `Bearer ${TOKEN.slice(0, -1)}\u00e9`;

  // Act
  const response = await app.inject({ url: '/secrets/prod/db', headers: { authorization } });

  // Assess
  t.equal(response.statusCode, 401);
  t.equal(response.json().code, 'unauthorized');
});

t.test('the bearer scheme must open the header, and spaces around the token do not matter', async (t) => {
  // Prepare
  const app = await buildAuthApp(t);
  const accepted = [`Bearer  ${TOKEN}`, `Bearer\t${TOKEN}`, `Bearer ${TOKEN} `, `BEARER ${TOKEN}`];
  const refused = [`Basic Bearer ${TOKEN}`, `xBearer ${TOKEN}`, `Bearer${TOKEN}`, ` Bearer ${TOKEN}x`];

  for (const authorization of accepted) {
    // Act
    const response = await app.inject({ url: '/secrets/prod/db', headers: { authorization } });

    // Assess
    t.equal(response.statusCode, 200, JSON.stringify(authorization));
  }
  for (const authorization of refused) {
    // Act
    const response = await app.inject({ url: '/secrets/prod/db', headers: { authorization } });

    // Assess
    t.equal(response.statusCode, 401, JSON.stringify(authorization));
  }
});

t.test('/metrics needs the token on the API listeners', async (t) => {
  // Prepare
  const app = await buildAuthApp(t);

  // Act
  const response = await app.inject({ url: '/metrics' });

  // Assess
  t.equal(response.statusCode, 401);
});

t.test('/healthz and /readyz are open, with or without a query string', async (t) => {
  // Prepare
  const app = await buildAuthApp(t);

  // Act and assess
  for (const url of ['/healthz', '/readyz', '/healthz?verbose=1']) {
    const response = await app.inject({ url });
    t.equal(response.statusCode, 200, url);
  }
});

t.test('a request carrying X-Forwarded-For is 403 forbidden, even with the right token or on /healthz', async (t) => {
  // Prepare
  const app = await buildAuthApp(t);

  // Act
  const withToken = await app.inject({
    url: '/secrets/prod/db',
    headers: { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': '10.0.0.7' },
  });
  const onHealth = await app.inject({ url: '/healthz', headers: { 'x-forwarded-for': '10.0.0.7' } });
  const empty = await app.inject({
    url: '/secrets/prod/db',
    headers: { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': '' },
  });

  // Assess
  t.equal(withToken.statusCode, 403);
  t.equal(withToken.json().code, 'forbidden');
  t.equal(onHealth.statusCode, 403);
  t.equal(empty.statusCode, 403, 'an empty header still shows a proxy was involved');
});
