// Bundles the compiled program (dist/src/main.js) and its dependencies into a few files in
// dist/bundle/, which the local cluster's supervisor runs its node processes from.
//
// Why: a node process spends most of its start loading modules. From dist/src/ Node resolves, stats,
// reads and compiles several hundred files (fastify alone is over a hundred); from the bundle it reads
// a handful. On the development machine a node serves after about 0.55 s and 0.6 s of CPU instead of
// 0.8 s and 0.95 s, and a node restarted under load takes that CPU from the nodes that are serving.
// docs/decisions.md has the measurements.
//
// Code splitting keeps the commands a node never runs (bench, sim, the shell) in chunks of their
// own, loaded only by the dynamic imports that already guard them in main.ts. Native addons stay
// outside the bundle and are loaded from node_modules as before.

import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry a content hash, so a rebuild writes new files beside the old ones: start empty.
rmSync('dist/bundle', { recursive: true, force: true });

await build({
  entryPoints: ['dist/src/main.js'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Native addons (and what only tests use) are required at run time from node_modules.
  external: ['better-sqlite3', 'msgpackr-extract', 'playwright-core'],
  // CommonJS dependencies call require(); an ES module has none until it makes one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  // Maps back to the TypeScript sources through tsc's maps: `node --enable-source-maps` uses them.
  sourcemap: 'linked',
  logLevel: 'warning',
});
