/**
 * Prometheus `file_sd` discovery (SPEC §8): each server with metrics on writes
 * `<state>/prometheus/<pid>-<start>.json` naming its scrape target and removes it on exit, so
 * one `file_sd_configs` entry finds every running instance. Files left by killed servers
 * (SIGKILL cannot be caught) are pruned by the next server that starts, metrics on or off;
 * the process start time in the name tells a dead server from a new process that got its pid.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ownerAlive } from '../../shared/proc-scan.ts';
import { writePrivateFileAtomic } from '../state/state-files.ts';

export const discoveryDir = (stateDir: string): string => join(stateDir, 'prometheus');

export type DiscoveryTarget = {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** The process start time (/proc/PID/stat field 22), '' where unknown. */
  readonly start: string;
  readonly cwd: string;
};

/** A process, as far as its discovery file can tell: pid and start time ('' if unknown). */
export type Owner = { readonly pid: number; readonly start: string };

/** Write (atomically, 0600 in a 0700 directory) and return the file's path. */
export function writeDiscoveryFile(stateDir: string, target: DiscoveryTarget): string {
  const name = target.start === '' ? `${target.pid}` : `${target.pid}-${target.start}`;
  const path = join(discoveryDir(stateDir), `${name}.json`);
  const group = [
    {
      targets: [scrapeAddress(target.host, target.port)],
      labels: { job: 'phone_opus', pid: String(target.pid), instance_cwd: target.cwd },
    },
  ];
  writePrivateFileAtomic(path, `${JSON.stringify(group, null, 2)}\n`);
  return path;
}

/** Synchronous so that it also works from `process.on('exit')`. Never throws. */
export function removeDiscoveryFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Remove the files of servers that no longer run; returns how many were removed. */
export function pruneDiscoveryFiles(stateDir: string, alive = ownerAlive): number {
  let entries: string[];
  try {
    entries = readdirSync(discoveryDir(stateDir));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const entry of entries) {
    const match = /^(\d+)(?:-(\d+))?\.json$/.exec(entry);
    if (match === null || alive({ pid: Number(match[1]), start: match[2] ?? '' })) continue;
    removeDiscoveryFile(join(discoveryDir(stateDir), entry));
    removed += 1;
  }
  return removed;
}

/** A wildcard bind is scraped over loopback; a specific address as it is. */
export function scrapeAddress(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '') return `127.0.0.1:${port}`;
  if (host === '::') return `[::1]:${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
