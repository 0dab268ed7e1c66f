/**
 * The one way a process tree is ended (host and worker alike): signal every member still
 * alive (and the groups they belong to), give them the grace period, then SIGKILL what is
 * left, and wait until nothing of the tree lives. Members are pid + start time, so a pid that
 * was reused meanwhile is never signalled.
 */
import { memberAlive, signalMembers, type TreeMember } from './proc-scan.ts';

export const KILL_GRACE_MS = 3000;
/** After SIGKILL, how long to wait for the kernel to finish the tree. */
const AFTER_KILL_MS = 1000;
const POLL_MS = 10;

export type KillOptions = {
  /** SIGTERM lets the CLI exit cleanly; SIGKILL when it already had its chance. */
  readonly first: 'SIGTERM' | 'SIGKILL';
  readonly graceMs: number;
};

/** Resolves once none of `members` lives; returns how many were alive to be signalled. */
export async function killTree(
  members: readonly TreeMember[],
  options: KillOptions,
): Promise<number> {
  const alive = () => members.some(memberAlive);
  const signalled = signalMembers(members, options.first);
  if (signalled === 0) return 0;
  if (await gone(alive, options.graceMs)) return signalled;
  signalMembers(members, 'SIGKILL');
  await gone(alive, AFTER_KILL_MS);
  return signalled;
}

/** Wait up to `ms` for `alive` to turn false; true if it did. */
async function gone(alive: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (alive()) {
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}
