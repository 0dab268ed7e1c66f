#!/usr/bin/env node
// The bundled program lives in dist/ (built by `npm install` or `npm run build`).
import module from 'node:module';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

// Node 22.8 and later can keep V8's compiled code for dist/ on disk, so that later starts do
// not compile the bundle again (docs/benchmarks.md, "Cold start per Node version"). The cache
// lives in the user's cache directory rather than Node's default under os.tmpdir(): it
// survives reboots and /tmp cleaning, and no other user can write to it. NODE_COMPILE_CACHE
// (another directory) and NODE_DISABLE_COMPILE_CACHE=1 (no cache) take precedence; a cache
// that cannot be created is simply not used.
if (typeof module.enableCompileCache === 'function') {
  try {
    const xdg = process.env.XDG_CACHE_HOME;
    const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
    module.enableCompileCache(join(base, 'phone-opus', 'compile-cache'));
  } catch {
    // start without it
  }
}

import('../dist/cli.js').catch((error) => {
  if (
    error &&
    error.code === 'ERR_MODULE_NOT_FOUND' &&
    String(error.message).includes('dist/cli.js')
  ) {
    process.stderr.write(
      'phone-opus: dist/ is missing; run `npm install` (or `npm run build`) first\n',
    );
  } else {
    process.stderr.write(`phone-opus: ${error?.stack ?? error}\n`);
  }
  process.exit(1);
});
