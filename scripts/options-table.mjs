// Prints the README's options table from the config schema, or with --write replaces it in
// README.md (run after `npm run build`; test/unit/readme.test.ts checks the two agree).
import { readFileSync, writeFileSync } from 'node:fs';
import { configLeaves } from '../dist/agent/config/schema.js';
import { allowedValues } from '../dist/agent/config/value-text.js';

const HEADER = '| env | config file key | default | allowed | meaning |';
const cell = (s) => String(s).replaceAll('|', '\\|');
const rows = [HEADER, '|---|---|---|---|---|'];
for (const leaf of configLeaves()) {
  const fallback = leaf.fallbackEnv.length
    ? ` (falls back to ${leaf.fallbackEnv.map((e) => `\`${e}\``).join(', ')})`
    : '';
  const env = `\`${leaf.env}\`${fallback}`;
  rows.push(
    `| ${env} | \`${leaf.key}\` | ${cell(leaf.defaultText)} | ${cell(allowedValues(leaf.schema))} | ${cell(leaf.description)} |`,
  );
}
const table = rows.join('\n');

if (process.argv.includes('--write')) {
  const readmeUrl = new URL('../README.md', import.meta.url);
  const lines = readFileSync(readmeUrl, 'utf8').split('\n');
  const start = lines.indexOf(HEADER);
  if (start < 0) throw new Error('README.md has no options table to replace');
  let end = start;
  while (end < lines.length && lines[end].startsWith('|')) end++;
  lines.splice(start, end - start, table);
  writeFileSync(readmeUrl, lines.join('\n'));
} else {
  console.log(table);
}
