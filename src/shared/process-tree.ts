import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { setPriority } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/**
 * The one owner of child processes. Every CLI runs as the leader of its own process group
 * (`detached: true`, so pgid = pid), which lets a single signal reach the whole tree:
 * thread death, cancel and timeout must never leave a grandchild behind.
 */

export const KILL_GRACE_MS = 3000;
/**
 * CLI start-up is CPU-heavy; a lower priority keeps the host thread responsive. It is set on
 * the group leader as soon as it exists; the guard shell takes two execs before it forks the
 * CLI, which then inherits it.
 */
export const CHILD_NICENESS = 10;

export type ExitReport = {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
};

export type GroupChild = {
  readonly pid: number;
  /** null when stdout was given a file descriptor. */
  readonly stdout: Readable | null;
  readonly stderr: Readable;
  /** Resolves when the leader has exited and its output streams are drained. */
  readonly done: Promise<ExitReport>;
};

export type SpawnFailure = { readonly code: string; readonly message: string };

export type SpawnOptions = {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Written to stdin, which is then closed (never left open: the CLI would wait for it). */
  readonly stdinText: string;
  /** A file descriptor to write stdout to instead of a pipe. */
  readonly stdoutFd?: number;
  /** Called synchronously as soon as the process exists, before anything else can happen. */
  readonly onPid?: (pid: number) => void;
  /**
   * Run the command under a guard that kills its whole group when the spawning thread or the
   * host process dies, even by SIGKILL (Linux, where `setpriv` exists; otherwise ignored).
   */
  readonly guarded?: boolean;
};

/**
 * The guard: `setpriv --pdeathsig SIGTERM` makes the kernel signal the shell when the thread
 * that spawned it dies; the shell's trap then SIGKILLs the whole group. It relays the prompt
 * on stdin and the command's exit status (128 + n after a signal).
 */
// An asynchronous command's stdin is /dev/null in a non-interactive shell, so the prompt pipe
// is passed through fd 3.
const GUARD_SCRIPT = `trap 'trap - TERM INT HUP; kill -KILL 0' TERM INT HUP; exec 3<&0; "$@" <&3 3<&- & exec 3<&-; wait $!; exit $?`;

let setprivPath: string | null | undefined;
function findSetpriv(): string | null {
  setprivPath ??= ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => isExecutable(p)) ?? null;
  return setprivPath;
}

function isExecutable(path: string): boolean {
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
    ? { ok: false, failure: { code: 'EACCES', message: `${file} is not executable` } }
    : { ok: false, failure: { code: 'ENOENT', message: `${file} was not found` } };
}

/** How long to wait for output streams after the leader exits (a stray holder may keep them open). */
const STREAM_DRAIN_MS = 2000;

/** Start `file` as a process-group leader; resolves once it is running, or with why it could not start. */
export function spawnInGroup(
  file: string,
  args: readonly string[],
  options: SpawnOptions,
): Promise<{ ok: true; child: GroupChild } | { ok: false; failure: SpawnFailure }> {
  let command = file;
  let argv = args;
  const setpriv = options.guarded === true ? findSetpriv() : null;
  if (setpriv !== null) {
    // The shell would report a missing command only as exit 127: find it first.
    const found = findExecutable(file, options.env, options.cwd);
    if (!found.ok) return Promise.resolve(found);
    command = setpriv;
    argv = [
      '--pdeathsig',
      'SIGTERM',
      '--',
      '/bin/sh',
      '-c',
      GUARD_SCRIPT,
      'phone-opus-guard',
      found.path,
      ...args,
    ];
  }
  return new Promise((resolve) => {
    const child = spawn(command, argv, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['pipe', options.stdoutFd ?? 'pipe', 'pipe'],
      windowsHide: true,
    });
    if (child.pid !== undefined) options.onPid?.(child.pid);
    child.once('error', (error: NodeJS.ErrnoException) => {
      resolve({ ok: false, failure: { code: error.code ?? 'UNKNOWN', message: error.message } });
    });
    child.once('spawn', () => {
      const pid = child.pid as number;
      try {
        setPriority(pid, CHILD_NICENESS);
      } catch {
        // The child may already have exited; nothing to lower then.
      }
      // EPIPE when the CLI exits before reading its prompt is reported through its exit status.
      // stdin and stderr are always pipes here (see `stdio` above).
      const stdin = child.stdin as Writable;
      const stderr = child.stderr as Readable;
      stdin.on('error', () => {});
      stdin.end(options.stdinText);
      const done = new Promise<ExitReport>((settle) => {
        let report: ExitReport | undefined;
        let drainTimer: NodeJS.Timeout | undefined;
        child.once('exit', (exitCode, signal) => {
          report = { exitCode, signal };
          drainTimer = setTimeout(() => {
            child.stdout?.destroy();
            stderr.destroy();
            settle(report as ExitReport);
          }, STREAM_DRAIN_MS);
        });
        child.once('close', (exitCode, signal) => {
          if (drainTimer !== undefined) clearTimeout(drainTimer);
          settle(report ?? { exitCode, signal });
        });
      });
      resolve({ ok: true, child: { pid, stdout: child.stdout ?? null, stderr, done } });
    });
  });
}

/** Signal every process in a group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * True while a live (not zombie) process of the group exists. `kill(-pgid, 0)` alone is not
 * enough: orphaned grandchildren that PID 1 does not reap stay zombies and still answer it.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true; // no /proc: trust the signal check
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X')
      return true;
  }
  return false;
}

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
export function memberAlive(member: TreeMember): boolean {
  const stat = readStat(String(member.pid));
  return live(stat) && stat.start === member.start;
}

/**
 * Signal each still-living member and every group such a member leads or belongs to.
 * Returns how many members were alive to be signalled.
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

export type CaptureResult =
  | {
      readonly ok: true;
      readonly exitCode: number | null;
      readonly stdout: string;
      readonly stderr: string;
    }
  | { readonly ok: false; readonly failure: SpawnFailure };

/** Run a short command to completion (e.g. `claude --version`), killing its group on timeout. */
export async function runCapture(
  file: string,
  args: readonly string[],
  options: SpawnOptions & { readonly timeoutMs: number },
): Promise<CaptureResult> {
  const started = await spawnInGroup(file, args, options);
  if (!started.ok) return started;
  const { child } = started;
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), options.timeoutMs);
  const report = await child.done;
  clearTimeout(timer);
  signalGroup(child.pid, 'SIGKILL');
  return { ok: true, exitCode: report.exitCode, stdout, stderr };
}
