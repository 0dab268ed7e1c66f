import { readdirSync, readFileSync } from 'node:fs';
import { readStat } from '../../src/shared/proc-scan.ts';

/**
 * /proc inspection for leak checks. A zombie (state Z) counts as dead: PID 1 may never reap
 * orphans in a container, and `kill(pid, 0)` would still succeed for it.
 */
export type ProcInfo = { pid: number; state: string; ppid: number; pgrp: number };

export function procInfo(pid: number): ProcInfo | undefined {
  const stat = readStat(String(pid));
  return stat === undefined
    ? undefined
    : { pid, state: stat.state, ppid: stat.ppid, pgrp: stat.pgrp };
}

export function isAlive(pid: number): boolean {
  const info = procInfo(pid);
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

/** Live processes whose environment contains `marker` (every CLI a test server starts inherits it). */
export function liveProcessesWithEnv(marker: string): ProcInfo[] {
  const found: ProcInfo[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (!environ.includes(marker)) continue;
    const info = procInfo(pid);
    if (info !== undefined && info.state !== 'Z' && info.state !== 'X') found.push(info);
  }
  return found;
}

/** The command name of a process (`/proc/PID/comm`), '' once it is gone. */
export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Live processes carrying `marker` that run `comm` (e.g. the fake's `sleep` strays). */
export const liveWithComm = (marker: string, comm: string): ProcInfo[] =>
  liveProcessesWithEnv(marker).filter((p) => commOf(p.pid) === comm);

/** The pids still alive once they have had `timeoutMs` to go (empty when all are gone). */
export async function survivors(pids: readonly number[], timeoutMs = 5000): Promise<number[]> {
  return waitFor(
    () => pids.filter(isAlive),
    (alive) => alive.length === 0,
    timeoutMs,
  );
}

/** Poll until `check` passes or the deadline expires; returns the last value. */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!check(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    value = await probe();
  }
  return value;
}
