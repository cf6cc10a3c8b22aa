import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { configLeaves } from '../../agent/config/schema.js';
import { STATUS_BY_CODE } from '../../agent/http/problem.js';
import { ROOT } from '../helpers/broker-process.js';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

t.test('the README options table is the one the schema generates', async (t) => {
  const table = execFileSync(process.execPath, [path.join(ROOT, 'scripts/options-table.mjs')], { encoding: 'utf8' });
  t.ok(readme.includes(table.trim()), 'regenerate with: npm run build && node scripts/options-table.mjs --write');
  for (const leaf of configLeaves()) t.ok(readme.includes(`\`${leaf.env}\``), `${leaf.env} documented`);
});

t.test('the README lists every status code and error code', async (t) => {
  for (const [code, entry] of Object.entries(STATUS_BY_CODE)) {
    t.ok(readme.includes(`\`${code}\``), `${code} documented`);
    t.ok(readme.includes(`| ${entry.status} |`), `${entry.status} documented`);
  }
});

t.test('the README gives the two set-up commands', async (t) => {
  t.match(readme, /npm ci && npm start/);
  t.match(readme, /npm ci && npm test/);
});
