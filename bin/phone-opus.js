#!/usr/bin/env node
// The bundled program lives in dist/ (built by `npm install` or `npm run build`).
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
