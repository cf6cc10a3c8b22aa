// Shared by the scripts that generate parts of docs/: the text between `<!-- NAME:start -->` and
// `<!-- NAME:end -->` in a page is theirs, everything around it is written by hand.
import { readFileSync, writeFileSync } from 'node:fs';

/** Replaces the generated block NAME in the page at `pageUrl` with `block`. */
export function writeBetweenMarkers(pageUrl, name, block) {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const page = readFileSync(pageUrl, 'utf8');
  const from = page.indexOf(start);
  const to = page.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${pageUrl.pathname} has no ${start} ... ${end} block`);
  writeFileSync(pageUrl, `${page.slice(0, from + start.length)}\n${block}\n${page.slice(to)}`);
}

/** Prints `block`, or with --write puts it into the page: one command line for every generator. */
export function printOrWrite(pageUrl, name, block) {
  if (process.argv.includes('--write')) writeBetweenMarkers(pageUrl, name, block);
  else console.log(block);
}
