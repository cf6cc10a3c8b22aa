/**
 * The registry is the one list of backends: the config schema, `inject` and each store's own
 * declaration all follow it, so a backend added there is offered everywhere and nowhere else.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import t from 'tap';
import { BACKEND_NAMES, BACKENDS } from '../../agent/backends/registry.js';
import { ConfigSchema } from '../../agent/config/schema.js';
import { InjectError, injectSidecar } from '../../agent/kube/inject.js';
import { INJECT_USAGE } from '../../agent/kube/inject-command.js';

const properties = ConfigSchema.properties as unknown as Record<string, TSchema>;

t.test('the config schema offers exactly the registered backends, each with its own section', async (t) => {
  // Act
  const allowed = ((properties.backend?.anyOf ?? []) as { const: string }[]).map((literal) => literal.const);

  // Assess
  t.same(allowed, [...BACKEND_NAMES]);
  t.equal(properties.backend?.default, BACKEND_NAMES[0], 'the first entry is the default');
  for (const backend of BACKENDS) t.equal(properties[backend.name], backend.settings, `${backend.name} section`);
});

t.test('inject takes exactly the registered backends', async (t) => {
  // Act
  const unknown = await injectSidecar('', { backend: 'gcp' as never }).catch((err: unknown) => err);

  // Assess
  t.type(unknown, InjectError);
  t.match((unknown as Error).message, `one of ${BACKEND_NAMES.join(', ')}`);
  t.match(INJECT_USAGE, `--backend NAME    ${BACKEND_NAMES.join(', ')}:`);
  for (const name of BACKEND_NAMES) t.equal(await injectSidecar('', { backend: name }), '', `${name} accepted`);
});

t.test('a backend built through its entry declares the abilities its entry lists', async (t) => {
  // Prepare: the file store, the one that needs no server
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-registry-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [file] = BACKENDS;
  const settings = file.resolveSettings(
    { dir: 'store', versionsKept: 5, recoveryWindowDays: 7 },
    { resolvePath: (p) => path.resolve(dir, p), env: {} },
  );

  // Act
  const backend = await file.create(await file.load(), settings, { requestTimeoutMs: 1000 });
  t.teardown(() => backend.close());

  // Assess
  t.equal(backend.kind, 'file');
  t.same(backend.capabilities, file.capabilities);
  t.equal(settings.keyFile, path.join(dir, 'store.key'), 'the key file defaults to beside the store');
});
