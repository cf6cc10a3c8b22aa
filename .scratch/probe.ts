import { loadConfig } from '../agent/config/loader.js';
const tryLoad = (env: Record<string,string>) => { try { const r = loadConfig(env, '/tmp/x'); return r; } catch (e) { return String(e); } };
console.log(JSON.stringify(tryLoad({}), null, 1));
for (const env of [
  { SECRETS_BROKER_LISTEN_PORT: 'abc' },
  { SECRETS_BROKER_LISTEN_PORT: '70000' },
  { SECRETS_BROKER_BACKEND: 'gcp' },
  { SECRETS_BROKER_LOG_LEVLE: 'debug' },
  { SECRETS_BROKER_SERVICE_HOST: '1', SECRETS_BROKER_SERVICE_PORT: '80', SECRETS_BROKER_PORT: 'tcp://10.0.0.1:80', SECRETS_BROKER_PORT_80_TCP_ADDR: '10.0.0.1', SECRETS_BROKER_PORT_80_TCP_PROTO: 'tcp', SECRETS_BROKER_PORT_80_TCP_PORT: '80', SECRETS_BROKER_PORT_80_TCP: 'tcp://10.0.0.1:80', SECRETS_BROKER_SERVICE_PORT_HTTP: '80' },
  { SECRETS_BROKER_LISTEN_HOST: '0.0.0.0' },
  { SECRETS_BROKER_BACKEND: 'aws' },
  { SECRETS_BROKER_BACKEND: 'aws', AWS_REGION: 'eu-west-1' },
  { SECRETS_BROKER_BACKEND: 'vault' },
  { SECRETS_BROKER_BACKEND: 'vault', VAULT_ADDR: 'http://v:8200' },
  { SECRETS_BROKER_BACKEND: 'vault', VAULT_ADDR: 'http://v:8200', SECRETS_BROKER_VAULT_AUTH: 'token' },
  { SECRETS_BROKER_BACKEND: 'vault', VAULT_ADDR: 'http://v:8200', SECRETS_BROKER_VAULT_AUTH: 'token', VAULT_TOKEN: 's.x' },
  { SECRETS_BROKER_CACHE_TTL_JITTER: '0.9' },
  { SECRETS_BROKER_POLICY_READ: 'a(?=b)' },
  { SECRETS_BROKER_SOCKET_MODE: '999' },
]) { const r = tryLoad(env); console.log(JSON.stringify(env), '=>', typeof r === 'string' ? r : JSON.stringify({w: r.warnings, v: r.config.vault, aws: r.config.aws})); }
