import { sep } from 'node:path';

/** Is `path` the directory `root` or inside it? Both must be canonical (no symlinks, no `..`). */
export const isWithin = (path: string, root: string): boolean =>
  path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
