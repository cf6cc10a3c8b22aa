import { writeFileSync } from 'node:fs';
import { loadConfig } from '../agent/config/loader.js';
const tryFile = (name: string, text: string, env: Record<string,string> = {}) => { writeFileSync('/tmp/scratch/'+name, text); try { const r = loadConfig({ SECRETS_BROKER_CONFIG: '/tmp/scratch/'+name, ...env }, '/tmp/x'); return JSON.stringify({l: r.config.listen, p: r.config.policy, f: r.configFile}); } catch (e) { return String(e); } };
console.log(tryFile('a.json', '{"listen": {"port": 1234}, "policy": {"read": ["^app/"]}}'));
console.log(tryFile('a.yaml', 'listen:\n  port: 1234\npolicy:\n  read: ["^app/"]\n'));
console.log(tryFile('a.yaml', 'listen:\n  port: 1234\n', { SECRETS_BROKER_LISTEN_PORT: '5678' }));
console.log(tryFile('b.yaml', 'listen:\n  prot: 1234\n'));
console.log(tryFile('b.yaml', 'bogus: 1\n'));
console.log(tryFile('b.yaml', 'listen: 8080\n'));
console.log(tryFile('b.yaml', 'listen:\n  port: "abc"\n'));
console.log(tryFile('b.yaml', 'listen:\n  port: "80"\n'));
console.log(tryFile('b.yaml', '- a\n- b\n'));
console.log(tryFile('b.yaml', 'a: [\n'));
console.log(tryFile('b.yaml', ''));
console.log(tryFile('b.yaml', 'policy:\n  read: "^app/"\n'));
console.log(tryFile('b.yaml', 'policy:\n  read: [1]\n'));
try { loadConfig({ SECRETS_BROKER_CONFIG: '/tmp/scratch/none.yaml' }); } catch (e) { console.log(String(e)); }
