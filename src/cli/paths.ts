/**
 * This package's root directory, found by walking up from the running file: the same answer
 * from `src/cli/*.ts` (tsx), `dist/cli.js` and `dist/chunks/*.js`.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'phone-opus') return dir;
    } catch {
      // not here
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the phone-opus package above ${from}`);
    dir = parent;
  }
}

/** The `phone-opus` executable script of this package (what MCP clients should start). */
export const binScript = (): string => join(packageRoot(), 'bin', 'phone-opus.js');

/**
 * The worker bundle, next to the host bundle in dist/ (this code may sit in dist/cli.js or in
 * a chunk under dist/chunks/); under tsx, the worker's source entry.
 */
export function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return join(dirname(here), '..', 'worker', 'entry.ts');
  const dir = dirname(here);
  return join(basename(dir) === 'chunks' ? dirname(dir) : dir, 'worker.js');
}
