// Bundle the host (CLI) and the worker into dist/: loading the SDK unbundled costs ~250 ms of start-up.
import { build } from 'esbuild';

const common = {
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
};

await Promise.all([
  // The host: code behind a dynamic import() (prom-client, ~120 ms to load) goes to its own
  // chunk, which is read only when metrics are enabled. Chunk names carry no hash, so a
  // rebuild overwrites them instead of piling up.
  build({
    ...common,
    entryPoints: { cli: 'src/cli/main.ts' },
    splitting: true,
    chunkNames: 'chunks/[name]',
  }),
  // The worker is built alone and unsplit: one self-contained file, whose fingerprint is
  // what rollout watches (shared chunks would hide worker changes from it).
  build({ ...common, entryPoints: { worker: 'src/worker/entry.ts' } }),
]);
