// Prints the route table of docs/api.md from the built OpenAPI document (dist/agent/openapi.json,
// written by `npm run build`), or with --write replaces it there; test/unit/docs.test.ts checks
// the two agree.
import { readFileSync } from 'node:fs';
import { printOrWrite } from './docs-markers.mjs';

const document = JSON.parse(readFileSync(new URL('../dist/agent/openapi.json', import.meta.url), 'utf8'));
const cell = (s) => String(s).replaceAll('|', '\\|');
const code = (s) => `\`${s}\``;

const rows = ['| method | path | does | query | statuses |', '|---|---|---|---|---|'];
for (const [path, operations] of Object.entries(document.paths)) {
  for (const [method, operation] of Object.entries(operations)) {
    const query = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => code(p.name));
    const statuses = Object.keys(operation.responses ?? {}).join(', ');
    rows.push(
      `| ${method.toUpperCase()} | ${code(path)} | ${cell(operation.summary ?? '')} | ${query.join(', ')} | ${statuses} |`,
    );
  }
}

printOrWrite(new URL('../docs/api.md', import.meta.url), 'api-routes', rows.join('\n'));
