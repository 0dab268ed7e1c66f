// Bundle the host (CLI) and the worker into dist/: loading the SDK unbundled costs ~250 ms of start-up.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

/**
 * The SDK's platform shim (`@modelcontextprotocol/server/_shims`) loads Ajv for one use only:
 * checking elicitation answers (`elicitInput`), which phone-opus never requests. Loading and
 * compiling Ajv costs ~25–30 ms of every start (see docs/benchmarks.md, cold_init). The bundle
 * gets a stand-in that fails loudly if ever used.
 */
const withoutAjv = {
  name: 'phone-opus-without-ajv',
  setup(b) {
    b.onResolve({ filter: /^@modelcontextprotocol\/server\/_shims$/ }, () => ({
      path: 'shims',
      namespace: 'phone-opus-without-ajv',
    }));
    b.onLoad({ filter: /.*/, namespace: 'phone-opus-without-ajv' }, () => ({
      contents: `import process from 'node:process';
export { process };
export class DefaultJsonSchemaValidator {
  getValidator() {
    throw new Error('phone-opus bundles no JSON Schema validator (scripts/build.mjs): elicitation is not supported');
  }
}`,
      loader: 'js',
    }));
  },
};

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
  plugins: [withoutAjv],
};

const [host] = await Promise.all([
  // The host: code behind a dynamic import() (prom-client, ~120 ms to load; doctor; init)
  // goes to chunks that are read only when used, so `serve` never parses them.
  build({
    ...common,
    entryPoints: { cli: 'src/cli/main.ts' },
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    metafile: true,
  }),
  // The worker is built alone and unsplit: one self-contained file, whose fingerprint is
  // what rollout watches (shared chunks would hide worker changes from it).
  build({ ...common, entryPoints: { worker: 'src/worker/entry.ts' } }),
]);

// Chunk names carry a content hash: drop the ones this build no longer uses.
const current = new Set(Object.keys(host.metafile.outputs).map((path) => join(path)));
for (const name of readdirSync(join('dist', 'chunks'))) {
  const path = join('dist', 'chunks', name);
  if (!current.has(path)) rmSync(path, { force: true });
}
