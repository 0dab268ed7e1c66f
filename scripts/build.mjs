// Bundle the host (CLI) and the worker into dist/: loading the SDK unbundled costs ~250 ms of start-up.
import { build } from 'esbuild';

await build({
  entryPoints: { cli: 'src/cli/main.ts', worker: 'src/worker/entry.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // piscina locates its own thread bootstrap file next to its module: keep it a real dependency.
  external: ['piscina'],
  // CommonJS dependencies (prom-client) call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __phoneOpusRequire } from 'node:module'; const require = __phoneOpusRequire(import.meta.url);",
  },
  legalComments: 'none',
  logLevel: 'warning',
});
