/**
 * The README and docs/ stay true to the code: every relative link (file and #anchor) resolves, the
 * README stays short, and every generated part of a page is what its generator writes today.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { configLeaves } from '../../agent/config/schema.js';
import { STATUS_BY_CODE } from '../../agent/http/problem.js';
import { ROOT } from '../helpers/broker-process.js';

const README_MAX_LINES = 250;

const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** README.md and every Markdown page under docs/, as paths relative to the repository root. */
function markdownPages(): string[] {
  const docs = readdirSync(path.join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => path.join('docs', name));
  return ['README.md', ...docs.sort()];
}

/** A page's lines outside fenced code blocks, where a `#` or `](` is text, not Markdown. */
function proseLines(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').filter((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced;
  });
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Relative link targets of a page: `[text](target)` that is not a URL with a scheme. */
function relativeLinks(markdown: string): string[] {
  const links: string[] = [];
  for (const line of proseLines(markdown)) {
    for (const match of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1] as string;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) links.push(target);
    }
  }
  return links;
}

/** Runs a docs generator script and returns the block it prints. */
function generated(script: string): string {
  return execFileSync(process.execPath, [path.join(ROOT, 'scripts', script)], { encoding: 'utf8' }).trim();
}

/** The generated block NAME of a page, between its `<!-- NAME:start -->` and `<!-- NAME:end -->` markers. */
function markedBlock(page: string, name: string): string | undefined {
  const match = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(page);
  return match?.[1];
}

t.test('every relative link in the README and docs/ reaches a file, and its #anchor a heading there', async (t) => {
  for (const page of markdownPages()) {
    const text = read(page);
    for (const link of relativeLinks(text)) {
      // Prepare
      const [file = '', anchor] = link.split('#');
      const target = file === '' ? page : path.join(path.dirname(page), decodeURIComponent(file));

      // Assess
      t.ok(existsSync(path.join(ROOT, target)), `${page}: ${link} names an existing file`);
      if (anchor === undefined || !target.endsWith('.md') || !existsSync(path.join(ROOT, target))) continue;
      t.ok(anchorsOf(read(target)).has(anchor), `${page}: ${link} names a heading of ${target}`);
    }
  }
});

t.test('the README stays a short introduction', async (t) => {
  // Act
  const lines = read('README.md').trimEnd().split('\n').length;

  // Assess
  t.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines, at most ${README_MAX_LINES}`);
});

t.test('the README gives the two set-up commands and links every page of docs/', async (t) => {
  // Prepare
  const readme = read('README.md');

  // Assess
  t.match(readme, /npm ci && npm start/);
  t.match(readme, /npm ci && npm test/);
  for (const page of markdownPages().filter((p) => p !== 'README.md')) {
    t.ok(readme.includes(`](${page})`), `README.md links ${page}`);
  }
});

t.test('the options table of docs/configuration.md is the one the schema generates', async (t) => {
  // Prepare
  const page = read('docs/configuration.md');

  // Act
  const table = generated('options-table.mjs');

  // Assess
  t.equal(
    markedBlock(page, 'options-table'),
    table,
    'regenerate: npm run build && node scripts/options-table.mjs --write',
  );
  for (const leaf of configLeaves()) t.ok(page.includes(`\`${leaf.env}\``), `${leaf.env} documented`);
});

t.test('the route table of docs/api.md is the one the built OpenAPI document generates', async (t) => {
  // Prepare
  const page = read('docs/api.md');

  // Act
  const table = generated('docs-api.mjs');

  // Assess
  t.equal(markedBlock(page, 'api-routes'), table, 'regenerate: npm run build && node scripts/docs-api.mjs --write');
});

t.test('docs/api.md lists every status code and error code', async (t) => {
  // Prepare
  const page = read('docs/api.md');

  // Assess
  for (const [code, entry] of Object.entries(STATUS_BY_CODE)) {
    t.ok(page.includes(`\`${code}\``), `${code} documented`);
    t.ok(page.includes(`| ${entry.status} |`), `${entry.status} documented`);
  }
});
