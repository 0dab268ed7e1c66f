/**
 * The directory a consult runs in, pinned at spawn time (SPEC §6.4). The path checked at
 * admission may have been swapped (for a symlink, a file, another directory) while the
 * consult waited in the queue. So the directory is opened once, its real path is read back
 * from the open descriptor and fenced, and the CLI is started in that very descriptor
 * (`/proc/<pid>/fd/N` as cwd makes the kernel enter the directory it refers to): nothing
 * resolves the path again between the check and the CLI's start.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  openSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { isWithin } from '../shared/within.ts';

export type PinnedDirectory = {
  /** What to give spawn as cwd. */
  readonly spawnCwd: string;
  /** The directory's real path, as the kernel names it. */
  readonly realPath: string;
  /** Close the descriptor once the CLI has started (its cwd then holds the directory); idempotent. */
  readonly close: () => void;
};

export type PinFailure =
  | { readonly kind: 'outside'; readonly realPath: string }
  | { readonly kind: 'error'; readonly code: string; readonly message: string };

const PROC_FDS = '/proc/self/fd';

export function pinDirectory(
  path: string,
  allowedRoots: readonly string[] | null,
): { ok: true; dir: PinnedDirectory } | { ok: false; failure: PinFailure } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (error) {
    return { ok: false, failure: errorOf(error) };
  }
  const fail = (failure: PinFailure) => {
    closeSync(fd);
    return { ok: false as const, failure };
  };
  try {
    const viaProc = existsSync(PROC_FDS);
    // Without /proc (not Linux) the path is resolved once more: a narrow race remains there.
    const realPath = viaProc ? readlinkSync(`${PROC_FDS}/${fd}`) : realpathSync(path);
    // The name must lead to the directory held open: a removed directory reads back as
    // "… (deleted)", a moved one under a name that may since mean something else.
    const held = fstatSync(fd);
    const named = statSync(realPath, { throwIfNoEntry: false });
    if (named === undefined || named.dev !== held.dev || named.ino !== held.ino) {
      return fail({
        kind: 'error',
        code: 'ENOENT',
        message: 'it was removed or moved after the consult was accepted',
      });
    }
    if (allowedRoots !== null && !allowedRoots.some((root) => isWithin(realPath, root))) {
      return fail({ kind: 'outside', realPath });
    }
    let open = true;
    return {
      ok: true,
      dir: {
        spawnCwd: viaProc ? `/proc/${process.pid}/fd/${fd}` : realPath,
        realPath,
        close: () => {
          if (open) closeSync(fd);
          open = false;
        },
      },
    };
  } catch (error) {
    return fail(errorOf(error));
  }
}

const errorOf = (error: unknown): PinFailure => {
  const e = error as NodeJS.ErrnoException;
  return { kind: 'error', code: e.code ?? 'UNKNOWN', message: e.message };
};
