/**
 * What the kernel says about processes, read from /proc, and signals to them. A process tree
 * is tracked by pid and start time, so a reused pid is never mistaken for the original.
 */
import { readdirSync, readFileSync } from 'node:fs';

type Stat = { state: string; ppid: number; pgrp: number; start: string };

/** Fields of /proc/PID/stat after the command name (which may itself contain spaces and parentheses). */
export function readStat(pid: string): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[19] is field 22 of stat(5), the start time: it tells a reused pid from the original.
  return {
    state: fields[0] ?? '?',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    start: fields[19] ?? '',
  };
}

const live = (stat: Stat | undefined): stat is Stat =>
  stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';

/**
 * Signal every process in a group; false when the group no longer exists. Only for a group
 * known to have a live member: an empty group's number is free, and a new process may lead a
 * group of that number (pid_max may be as low as 32768). `signalMembers` checks that first.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * A process of a CLI's tree. The CLI runs some tools (its Bash tool) in sessions of their own,
 * which a signal to the leader's group does not reach; so the tree is also tracked member by
 * member, with the start time guarding against pid reuse.
 */
export type TreeMember = { readonly pid: number; readonly pgid: number; readonly start: string };

/** The live descendants of `rootPid` (not including it), found through /proc. */
export function snapshotDescendants(rootPid: number): TreeMember[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const children = new Map<number, { pid: number; stat: Stat }[]>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (!live(stat)) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push({ pid: Number(entry), stat });
    children.set(stat.ppid, list);
  }
  const found: TreeMember[] = [];
  const queue = [rootPid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const { pid, stat } of children.get(next) ?? []) {
      found.push({ pid, pgid: stat.pgrp, start: stat.start });
      queue.push(pid);
    }
  }
  return found;
}

let ownGroupId: number | undefined;
/** Our own process group: never ours to signal. */
function ownGroup(): number {
  ownGroupId ??= readStat('self')?.pgrp ?? process.pid;
  return ownGroupId;
}

/** Is this process running (not gone, not a zombie)? */
export function processRunning(pid: number): boolean {
  return live(readStat(String(pid)));
}

/** Is this exact process (same pid and start time) still alive? */
export function memberAlive(member: { readonly pid: number; readonly start: string }): boolean {
  const stat = readStat(String(member.pid));
  return live(stat) && stat.start === member.start;
}

/**
 * Signal each still-living member and every group such a member leads or belongs to (a group
 * with a live member of ours is still ours). Returns how many members were alive to be signalled.
 */
export function signalMembers(members: readonly TreeMember[], signal: NodeJS.Signals): number {
  const groups = new Set<number>();
  let alive = 0;
  for (const member of members) {
    if (!memberAlive(member)) continue;
    alive += 1;
    groups.add(member.pgid);
    try {
      process.kill(member.pid, signal);
    } catch {
      // gone in the meantime
    }
  }
  for (const pgid of groups) if (pgid > 1 && pgid !== ownGroup()) signalGroup(pgid, signal);
  return alive;
}

/**
 * Is the process that wrote a record (pid and start time; '' = start unknown) still running?
 * The start time tells it from a later process that got the same pid.
 */
export const ownerAlive = (owner: { readonly pid: number; readonly start: string }): boolean =>
  owner.start === '' ? processRunning(owner.pid) : memberAlive(owner);

/** This process, as `ownerAlive` knows it. */
export const self = (): { pid: number; start: string } => ({
  pid: process.pid,
  start: readStat('self')?.start ?? '',
});
