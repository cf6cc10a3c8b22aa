// Prints the options table of docs/configuration.md from the config schema, or with --write replaces
// it there (run after `npm run build`; test/unit/docs.test.ts checks the two agree).
import { configLeaves } from '../dist/agent/config/schema.js';
import { allowedValues } from '../dist/agent/config/value-text.js';
import { printOrWrite } from './docs-markers.mjs';

const cell = (s) => String(s).replaceAll('|', '\\|');
const rows = ['| env | config file key | default | allowed | meaning |', '|---|---|---|---|---|'];
for (const leaf of configLeaves()) {
  const fallback = leaf.fallbackEnv.length
    ? ` (falls back to ${leaf.fallbackEnv.map((e) => `\`${e}\``).join(', ')})`
    : '';
  const env = `\`${leaf.env}\`${fallback}`;
  rows.push(
    `| ${env} | \`${leaf.key}\` | ${cell(leaf.defaultText)} | ${cell(allowedValues(leaf.schema))} | ${cell(leaf.description)} |`,
  );
}

printOrWrite(new URL('../docs/configuration.md', import.meta.url), 'options-table', rows.join('\n'));
