/**
 * Property-based fuzzing of the running broker against the OpenAPI document it serves: every
 * generated request must get a documented status, content type and body, never a 5xx, and
 * schema-violating requests must be refused.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { freePort, ROOT, startBrokerProcess, waitForOutput } from '../helpers/broker-process.js';

const SCHEMATHESIS = path.join(ROOT, '.venv/bin/schemathesis');

const missing = existsSync(SCHEMATHESIS)
  ? false
  : `schemathesis not installed (${SCHEMATHESIS}); run bash scripts/python-venv.sh`;
if (missing && process.env.CI === 'true') throw new Error(missing);

t.test('schemathesis finds no failure against the served OpenAPI document', { skip: missing }, async (t) => {
  // Prepare
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-fuzz-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  const broker = startBrokerProcess(
    { SECRETS_BROKER_SOCKET: path.join(dir, 'broker.sock'), SECRETS_BROKER_LISTEN_PORT: String(port) },
    dir,
  );
  t.teardown(() => broker.child.kill('SIGKILL'));
  await waitForOutput(broker, (text) => text.includes('serving'));
  const token = (await readFile(path.join(dir, 'token'), 'utf8')).trim();
  // Act
  const run = spawnSync(
    SCHEMATHESIS,
    [
      'run',
      `http://127.0.0.1:${port}/openapi.json`,
      '--header',
      `Authorization: Bearer ${token}`,
      '--checks',
      'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection',
      '--phases',
      'examples,coverage,fuzzing',
      '--max-examples',
      '20',
      '--max-time',
      '45',
      '--workers',
      '1',
      '--seed',
      '20261128',
    ],
    { encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } },
  );
  // Assess
  t.equal(run.status, 0, `schemathesis passed:\n${run.stdout.slice(-3000)}${run.stderr.slice(-1000)}`);
  t.match(run.stdout, /\d+ generated, \d+ passed/, 'it generated and ran test cases');
  t.notOk(broker.output().includes('"level":"error"'), 'the broker logged no error');
});
