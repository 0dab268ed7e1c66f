/** Finding the program to run, as execvp would, before anything is spawned. */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import type { SpawnFailure } from './process-tree.ts';

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Where the OS would find `file` (PATH lookup as execvp does), or why it cannot run it. */
export function findExecutable(
  file: string,
  env: Readonly<Record<string, string>>,
  cwd: string,
): { ok: true; path: string } | { ok: false; failure: SpawnFailure } {
  const candidates = file.includes('/')
    ? [resolve(cwd, file)]
    : (env['PATH'] ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, file));
  for (const candidate of candidates)
    if (isExecutable(candidate)) return { ok: true, path: candidate };
  const exists = candidates.some((c) => existsSync(c));
  return exists
    ? {
        ok: false,
        failure: { code: 'EACCES', message: `${file} is not executable`, about: 'command' },
      }
    : {
        ok: false,
        failure: { code: 'ENOENT', message: `${file} was not found`, about: 'command' },
      };
}
