/**
 * What every core area's mutation run shares. An area's config names the modules it mutates and the
 * unit test files that must catch the mutants; only those files run, so an area takes minutes.
 *
 * Stryker copies the project into a sandbox per run: only agent/, test/ and the files the tests read
 * at their root go in (node_modules is linked, not copied), so no run copies .venv, .node, dist or
 * earlier reports.
 */
export function areaConfig(area, { mutate, testFiles }) {
  return {
    testRunner: 'tap',
    tap: {
      testFiles,
      // tap's own TypeScript loader (transpile only), as `tap` itself runs the tests.
      nodeArgs: ['--import', '@tapjs/typescript/import'],
    },
    mutate,
    ignorePatterns: ['/*', '!/agent', '!/test', '!/package.json', '!/tsconfig.json'],
    coverageAnalysis: 'perTest',
    // The machine is shared: one test process at a time, and timeouts that allow for a loaded core.
    concurrency: 1,
    timeoutMS: 10_000,
    timeoutFactor: 2,
    thresholds: { high: 95, low: 90, break: 90 },
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
    reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
    htmlReporter: { fileName: `reports/mutation/${area}.html` },
    jsonReporter: { fileName: `reports/mutation/${area}.json` },
    clearTextReporter: { allowEmojis: false, logTests: false, reportScoreTable: true },
    disableTypeChecks: '{agent,test}/**/*.ts',
    incremental: false,
  };
}
