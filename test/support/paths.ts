import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/phone-opus.js', import.meta.url));
export const FAKE_CLAUDE = fileURLToPath(new URL('../fixtures/fake-claude.mjs', import.meta.url));
export const REAL_CLAUDE = fileURLToPath(
  new URL('../../node_modules/.bin/claude', import.meta.url),
);
