#!/usr/bin/env node
/**
 * Bundles the broker's command line (agent/main.ts: serve, inject, version) with its dependencies into
 * dist/bundle/, so that the image carries no node_modules: one ES module per entry plus chunks. What
 * `serve` loads only on demand (each backend, the Kubernetes client of `inject`) stays behind its
 * dynamic import() in a chunk of its own, so a file-backed broker reads no AWS or Kubernetes code.
 *
 * Files the agent reads beside its compiled modules (the OpenAPI document that `npm run build` writes)
 * are copied to where the bundled module now looks for them; run `npm run build` first to have them.
 *
 * Usage: node scripts/bundle.mjs [--sizes] [--outdir=DIR]   (after npm ci; --sizes lists each output
 * file's size; the output goes to dist/bundle/ unless --outdir names another folder)
 */
import { copyFile, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdirArgument = process.argv.find((arg) => arg.startsWith('--outdir='));
const outdir = outdirArgument ? path.resolve(outdirArgument.slice('--outdir='.length)) : path.join(root, 'dist/bundle');
/**
 * Each module that reads a file beside its `tsc` output (`new URL('../x', import.meta.url)`), and that
 * file: the same relative path must hold from the chunk the module is bundled into.
 */
const FILES_BESIDE_MODULES = [{ module: 'agent/http/app.ts', file: 'dist/agent/openapi.json' }];

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

/**
 * An ES module's `import ... from 'node:x'` makes Node build that built-in's ES facade, which reads
 * every export and so runs each lazy getter: fs's streams, http's fetch client (undici) and more;
 * profiled at close to a fifth of the broker's start-up CPU. Bundled code reaches built-ins through
 * CommonJS's `require` instead, which reads only the properties used, when they are used.
 */
const builtinsThroughRequire = {
  name: 'builtins-through-require',
  setup(builder) {
    builder.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'import-statement' || args.kind === 'dynamic-import'
        ? { path: args.path, namespace: 'builtin' }
        : { path: args.path, external: true },
    );
    builder.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * sodium-native finds its prebuilt addon at run time through its own package folder, which the bundle
 * has none of: its `./binding` becomes a require of the prebuilt binary for this platform, copied beside
 * the bundle (the image is built on the platform it runs on).
 */
const SODIUM_ADDON = path.join(
  root,
  'node_modules/sodium-native/prebuilds',
  `${process.platform}-${process.arch}`,
  'sodium-native.node',
);
const sodiumAddon = {
  name: 'sodium-addon',
  setup(builder) {
    builder.onResolve({ filter: /^\.\/binding$/ }, (args) =>
      args.importer.includes(`${path.sep}sodium-native${path.sep}`)
        ? { path: 'binding', namespace: 'sodium-addon' }
        : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'sodium-addon' }, () => ({
      contents: `module.exports = require(${JSON.stringify(SODIUM_ADDON)});`,
      loader: 'js',
      resolveDir: root,
    }));
  },
};

/**
 * Modules that `serve` evaluates at start but that the broker's settings use late or never. Each is
 * bundled as usual, behind a stand-in that evaluates it on first use (a property read, a call or `new`),
 * so the start-up pays nothing for it. A module read while its importer is evaluated gains nothing here:
 * the stand-in would load it at once. Measured with `npm run bench` (spawn to /readyz).
 */
const LAZY_MODULES = [
  // prom-client reads the active trace for exemplars, which the broker does not turn on.
  { importer: 'prom-client', request: '@opentelemetry/api' },
  // prom-client's push client (http, https, zlib) and Summary (t-digest): the broker uses neither.
  { importer: 'prom-client', request: './lib/pushgateway' },
  { importer: 'prom-client', request: './lib/summary' },
  // pino's worker-thread transports: the broker logs to stdout from its own thread.
  { importer: 'pino', request: './transport' },
  // Fastify's HTTPS and HTTP/2 servers (TLS with them): the broker serves plain HTTP/1.1 only.
  { importer: 'fastify', request: 'node:https' },
  { importer: 'fastify', request: 'node:http2' },
  // fast-json-stringify (with the Ajv it loads) compiles a route's response serializer at its first answer.
  { importer: '@fastify/fast-json-stringify-compiler', request: 'fast-json-stringify' },
  // Locks are taken by writes only, never before the first write request.
  { importer: 'agent', request: 'proper-lockfile' },
];
const lazyModules = {
  name: 'lazy-modules',
  setup(builder) {
    const importerDir = (importer) =>
      importer === 'agent' ? `${path.sep}agent${path.sep}` : `${path.sep}node_modules${path.sep}${importer}${path.sep}`;
    builder.onResolve({ filter: /.*/ }, (args) => {
      if (args.pluginData?.lazyStandIn) return undefined;
      const lazy = LAZY_MODULES.find(
        ({ importer, request }) => request === args.path && args.importer.includes(importerDir(importer)),
      );
      return lazy ? { path: `${args.importer}:${args.path}`, namespace: 'lazy-module', pluginData: args } : undefined;
    });
    builder.onLoad({ filter: /.*/, namespace: 'lazy-module' }, ({ pluginData: { path: request, resolveDir } }) => ({
      contents: `let loaded;
const load = () => (loaded ??= require(${JSON.stringify(request)}));
module.exports = new Proxy(function lazyModule() {}, {
  get: (_, key) => Reflect.get(load(), key),
  has: (_, key) => Reflect.has(load(), key),
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args) => Reflect.construct(load(), args),
});`,
      loader: 'js',
      resolveDir,
      pluginData: { lazyStandIn: true },
    }));
  },
};

// Chunk names carry a content hash: without this, every build would leave the previous chunks beside the new.
await rm(path.join(outdir, 'chunks'), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'agent/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  // Whitespace and syntax only: identifiers are not renamed, so stack traces keep the original names.
  minifyWhitespace: true,
  minifySyntax: true,
  // Not `keepNames`: it adds a defineProperty call per function and class, evaluated at start (about 1,800
  // in serve's chunk, several ms of start-up), to keep `.name` for the few that bundling renames; the
  // broker's errors name themselves explicitly.
  keepNames: false,
  chunkNames: 'chunks/[name]-[hash]',
  legalComments: 'linked',
  // CommonJS dependencies call require() for Node's own modules, which an ES module lacks.
  banner: {
    js: "import { createRequire as __sbCreateRequire } from 'node:module'; const require = __sbCreateRequire(import.meta.url);",
  },
  loader: { '.node': 'copy' },
  plugins: [lazyModules, bundleLazyRequires, builtinsThroughRequire, sodiumAddon],
  metafile: true,
  logLevel: 'warning',
});

for (const { module, file } of FILES_BESIDE_MODULES) {
  const source = path.join(root, file);
  const output = Object.entries(result.metafile.outputs).find(([, { inputs }]) => module in inputs)?.[0];
  if (!output) continue;
  const compiled = path.join(root, 'dist', path.dirname(module));
  const relative = path.relative(compiled, source);
  const target = path.resolve(root, path.dirname(output), relative);
  try {
    await copyFile(source, target);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
    // Only a module that refers to the file needs it.
    if ((await readFile(path.join(root, output), 'utf8')).includes(relative)) {
      console.warn(`bundle: ${file} is missing (npm run build writes it); the bundle will lack it`);
    }
  }
}
if (process.argv.includes('--sizes')) {
  const outputs = Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith('.js'))
    .map(([file, { bytes }]) => `${(bytes / 1024).toFixed(0).padStart(7)} KiB  ${path.relative(root, file)}`);
  console.log(outputs.join('\n'));
}
