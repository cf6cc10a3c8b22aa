#!/usr/bin/env node
/**
 * Bundles the broker's command line (agent/main.ts: serve, inject, version) with its dependencies into
 * dist/bundle/, so that the image carries no node_modules: one ES module per entry plus chunks. What
 * `serve` loads only on demand (each backend, the Kubernetes client of `inject`) stays behind its
 * dynamic import() in a chunk of its own, so a file-backed broker reads no AWS or Kubernetes code.
 *
 * Usage: node scripts/bundle.mjs [--metafile]   (after npm ci; reads agent/ directly, no tsc needed)
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist/bundle');

/**
 * A synchronous, lazy load written `createRequire(import.meta.url)('pkg')` is invisible to esbuild,
 * which would leave it to look for node_modules at run time. Rewritten as `require('pkg')`, the package
 * is bundled and still evaluated only when that line runs.
 */
const bundleLazyRequires = {
  name: 'bundle-lazy-requires',
  setup(builder) {
    builder.onLoad({ filter: /[/\\]agent[/\\].*\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      return { contents: source.replace(/createRequire\(import\.meta\.url\)\(/g, 'require('), loader: 'ts' };
    });
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'agent/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  // Whitespace and syntax only: stack traces keep the original names.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  chunkNames: 'chunks/[name]-[hash]',
  legalComments: 'linked',
  // CommonJS dependencies call require() for Node's own modules, which an ES module lacks.
  banner: {
    js: "import { createRequire as __sbCreateRequire } from 'node:module'; const require = __sbCreateRequire(import.meta.url);",
  },
  plugins: [bundleLazyRequires],
  metafile: process.argv.includes('--metafile'),
  logLevel: 'warning',
});
if (result.metafile) {
  const outputs = Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith('.js'))
    .map(([file, { bytes }]) => `${(bytes / 1024).toFixed(0).padStart(7)} KiB  ${path.relative(root, file)}`);
  console.log(outputs.join('\n'));
}
