/**
 * The CLI's output goes to a private directory under TMPDIR, named after the server that owns
 * it: `phone-opus-<pid namespace>-<pid>-<start time>-XXXXXX`. A server killed outright cannot
 * remove its directories (they hold partial answers); the next server recognises them as
 * abandoned because their owner is gone, and never mistakes a live server's for one: the pid
 * namespace tells whose pids they are, and the start time tells a reused pid from the owner.
 */
import { readlinkSync } from 'node:fs';
import { readStat } from './proc-scan.ts';

export type Owner = { readonly ns: string; readonly pid: number; readonly start: string };

const NAME = /^phone-opus-(\d+)-(\d+)-(\d+)-[A-Za-z0-9]{6}$/;

let own: Owner | undefined;
/** This process as an owner; its pid is the one /proc knows it by. */
export function ownOwner(): Owner {
  own ??= {
    ns: /\[(\d+)\]/.exec(safeReadlink('/proc/self/ns/pid'))?.[1] ?? '0',
    pid: Number(safeReadlink('/proc/self')) || process.pid,
    start: readStat('self')?.start ?? '0',
  };
  return own;
}

/** The prefix for `mkdtemp`. */
export const outputDirPrefix = (owner: Owner = ownOwner()): string =>
  `phone-opus-${owner.ns}-${owner.pid}-${owner.start}-`;

/** The owner a directory name records, if it is one of ours. */
export function ownerOf(name: string): Owner | undefined {
  const match = NAME.exec(name);
  if (match === null) return undefined;
  const [, ns = '', pid = '', start = ''] = match;
  return { ns, pid: Number(pid), start };
}

function safeReadlink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}
