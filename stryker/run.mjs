/**
 * `npm run mutate [-- area...]`: runs Stryker on each named core area (all of them, smallest first,
 * when none is named), one after another, and prints each area's mutation score. Exits non-zero when
 * an area fails to run or scores under its break threshold.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const order = ['ids', 'retry', 'record-codec', 'caller-auth', 'locks', 'cache', 'broker'];
const known = readdirSync(here)
  .filter((name) => name.endsWith('.config.mjs'))
  .map((name) => name.slice(0, -'.config.mjs'.length));
const all = [...order.filter((a) => known.includes(a)), ...known.filter((a) => !order.includes(a))];

const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !known.includes(a));
if (unknown.length > 0) {
  console.error(`unknown area: ${unknown.join(', ')} (areas: ${all.join(', ')})`);
  process.exit(2);
}

const results = [];
for (const area of asked.length > 0 ? asked : all) {
  const run = spawnSync('npx', ['stryker', 'run', join('stryker', `${area}.config.mjs`)], {
    cwd: root,
    stdio: 'inherit',
    // tap's TypeScript loader type-checks unless told otherwise; `tap` itself transpiles only.
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
  });
  results.push({ area, exitCode: run.status ?? 1, score: readScore(area) });
}

console.log('\narea          score   result');
for (const { area, exitCode, score } of results) {
  const shown = score === undefined ? '   -  ' : `${score.toFixed(1).padStart(5)}%`;
  console.log(`${area.padEnd(13)} ${shown}  ${exitCode === 0 ? 'pass' : 'FAIL'}`);
}
process.exit(results.some((r) => r.exitCode !== 0) ? 1 : 0);

/** The mutation score (killed and timed out over all valid mutants) from the area's JSON report. */
function readScore(area) {
  let report;
  try {
    report = JSON.parse(readFileSync(join(root, 'reports', 'mutation', `${area}.json`), 'utf8'));
  } catch {
    return undefined;
  }
  let detected = 0;
  let valid = 0;
  for (const file of Object.values(report.files)) {
    for (const mutant of file.mutants) {
      if (mutant.status === 'CompileError' || mutant.status === 'RuntimeError' || mutant.status === 'Ignored') continue;
      valid += 1;
      if (mutant.status === 'Killed' || mutant.status === 'Timeout') detected += 1;
    }
  }
  return valid === 0 ? undefined : (100 * detected) / valid;
}
