/**
 * Remove the output directories that servers killed outright left under TMPDIR (they hold
 * partial answers). A directory is abandoned only when its owner, named in it, is provably
 * gone: same pid namespace as ours (else its pids mean nothing here), and no live process
 * with that pid and start time. Anything else, including every live server's, is kept.
 * Returns the paths removed.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownerOf, ownOwner } from '../../shared/output-dirs.ts';
import { memberAlive } from '../../shared/proc-scan.ts';

export async function removeAbandonedOutputDirs(dir: string = tmpdir()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return []; // an unusable TMPDIR is reported by the consults that need it
  }
  const own = ownOwner();
  const uid = process.getuid?.();
  const removed: string[] = [];
  for (const name of names) {
    const owner = ownerOf(name);
    if (owner === undefined || owner.ns !== own.ns) continue;
    if (memberAlive(owner)) continue;
    const path = join(dir, name);
    try {
      const stat = await lstat(path);
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) continue;
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}
