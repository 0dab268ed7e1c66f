// /proc readers: CPU time and RSS of a process, and liveness of the CLI process groups.
// A zombie (state Z) counts as gone: PID 1 may never reap orphans in a container.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** Fields of /proc/PID/stat after the command name, or undefined if the process is gone. */
export function stat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    state: f[0],
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    utime: Number(f[11]),
    stime: Number(f[12]),
  };
}

/** utime + stime of the whole process (every thread, no children), in ms (tick = 1000/CLK_TCK ms). */
export function cpuMs(pid) {
  const s = stat(pid);
  if (s === undefined) throw new Error(`process ${pid} is gone`);
  return ((s.utime + s.stime) * 1000) / CLK_TCK;
}

export const TICK_MS = 1000 / CLK_TCK;

/** Resident set size in MB (VmRSS). */
export function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  return kb / 1024;
}

export function isGone(pid) {
  const s = stat(pid);
  return s === undefined || s.state === 'Z' || s.state === 'X';
}

function livePids() {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(entry);
    if (s !== undefined && s.state !== 'Z' && s.state !== 'X')
      found.push({ pid: Number(entry), ...s });
  }
  return found;
}

export const childrenOf = (ppid) => livePids().filter((p) => p.ppid === ppid);

/** Live processes below `root` (children, grandchildren, …). */
export function descendantsOf(root) {
  const all = livePids();
  const found = [];
  const queue = [root];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const p of all) {
      if (p.ppid === next) {
        found.push(p);
        queue.push(p.pid);
      }
    }
  }
  return found;
}
export const groupMembers = (pgrp) => livePids().filter((p) => p.pgrp === pgrp);

/** The command name of a process ('' if gone). */
export function comm(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
