/**
 * docker-compose.yml cannot run on machines without a Docker engine, so it is checked statically:
 * parsed, every reference resolved (services, volumes, the Dockerfile it builds), and the broker's
 * environment passed through the broker's own config loader, for each backend it can select.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../agent/config/loader.js';
import { ROOT } from './kube-tools.js';

// biome-ignore lint/suspicious/noExplicitAny: assertions walk the compose file's nested data freely
type Data = Record<string, any>;

const compose = parseYaml(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as Data;
const services = compose.services as Record<string, Data>;

/** `${NAME:-default}` as compose expands it when NAME is unset or set to `value`. */
function interpolate(text: string, vars: Record<string, string> = {}): string {
  return text.replace(/\$\{(\w+):-([^}]*)\}/g, (_all, name: string, fallback: string) => vars[name] || fallback);
}

function dependencies(service: Data): string[] {
  const dependsOn = service.depends_on ?? [];
  return Array.isArray(dependsOn) ? dependsOn : Object.keys(dependsOn);
}

t.test('runs the broker, both emulators and an example app', async (t) => {
  t.same(Object.keys(services).sort(), ['app', 'broker', 'moto', 'vault']);
});

t.test('every dependency names a service, and none depends on itself', async (t) => {
  for (const [name, service] of Object.entries(services)) {
    for (const dependency of dependencies(service)) {
      t.ok(services[dependency], `${name} depends on ${dependency}, which exists`);
      t.not(dependency, name);
    }
  }
  t.equal(services.app?.depends_on.broker.condition, 'service_healthy', 'the app waits for a ready broker');
  t.ok(services.broker?.healthcheck, 'which needs a health check');
});

t.test('every volume a service mounts is declared, or a path that exists', async (t) => {
  const declared = Object.keys(compose.volumes ?? {});
  for (const [name, service] of Object.entries(services)) {
    for (const volume of service.volumes ?? []) {
      const source = String(volume).split(':')[0] as string;
      if (source.startsWith('.') || source.startsWith('/')) t.ok(existsSync(path.resolve(ROOT, source)), source);
      else t.ok(declared.includes(source), `${name} mounts the declared volume ${source}`);
    }
  }
});

t.test('the broker is built from this repository’s Dockerfile; every other image is pinned', async (t) => {
  const build = services.broker?.build;
  t.ok(existsSync(path.join(ROOT, build.context, build.dockerfile)), 'the Dockerfile exists');
  for (const [name, service] of Object.entries(services)) {
    t.match(service.image, /^[\w./-]+:[\w.-]+$/, `${name} names an image with a tag`);
    t.notMatch(service.image, /:latest$/, `${name} is not on a moving tag`);
  }
});

t.test('the broker runs as in the pod: numeric non-root user, read-only root, no capabilities', async (t) => {
  const broker = services.broker as Data;
  t.match(broker.user, /^[1-9]\d*:\d+$/);
  t.equal(broker.read_only, true);
  t.same(broker.cap_drop, ['ALL']);
});

t.test('the app shares the broker’s socket volume at the path its environment names', async (t) => {
  const mountOf = (service: Data) => (service.volumes as string[]).find((v) => v.startsWith('broker-socket:'));
  const broker = services.broker as Data;
  const app = services.app as Data;
  t.equal(mountOf(app), mountOf(broker));
  const socketDir = mountOf(broker)?.split(':')[1];
  t.equal(path.dirname(app.environment.SECRETS_BROKER_SOCKET), socketDir);
  t.equal(app.environment.SECRETS_BROKER_SOCKET, broker.environment.SECRETS_BROKER_SOCKET);
  t.ok(app.group_add.includes(broker.user.split(':')[1]), 'the app is in the group that owns the socket');
});

t.test('the broker’s environment passes its config loader, for each backend it can select', async (t) => {
  for (const backend of ['aws', 'vault']) {
    // Prepare
    const env = Object.fromEntries(
      Object.entries(services.broker?.environment as Record<string, string>).map(([k, v]) => [
        k,
        interpolate(String(v), { BACKEND: backend }),
      ]),
    );

    // Act
    const { config, warnings } = loadConfig(env, '/');

    // Assess
    t.equal(config.backend, backend);
    t.same(warnings, [], `${backend}: every SECRETS_BROKER_* name is known`);
    if (backend === 'aws') t.match(config.aws.endpoint, /^http:\/\/moto:/, 'talks to the moto service');
    if (backend === 'vault') t.match(config.vault.addr, /^http:\/\/vault:/, 'talks to the vault service');
  }
});
