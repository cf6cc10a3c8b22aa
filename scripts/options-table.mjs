// Prints the README's options table from the config schema (run after `npm run build`).
import { configLeaves } from '../dist/agent/config/schema.js';
import { allowedValues } from '../dist/agent/config/value-text.js';

const cell = (s) => String(s).replaceAll('|', '\\|');
console.log('| env | config file key | default | allowed | meaning |');
console.log('|---|---|---|---|---|');
for (const leaf of configLeaves()) {
  const fallback = leaf.fallbackEnv.length
    ? ` (falls back to ${leaf.fallbackEnv.map((e) => `\`${e}\``).join(', ')})`
    : '';
  const env = `\`${leaf.env}\`${fallback}`;
  console.log(
    `| ${env} | \`${leaf.key}\` | ${cell(leaf.defaultText)} | ${cell(allowedValues(leaf.schema))} | ${cell(leaf.description)} |`,
  );
}
