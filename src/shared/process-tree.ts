/**
 * The one owner of child processes. Every CLI runs as the leader of its own process group
 * (`detached: true`, so pgid = pid), which lets a single signal reach the whole tree, and,
 * where the platform allows, inside a PID namespace of its own (containment.ts), which also
 * holds the processes that leave the group: thread death, cancel and timeout must never leave
 * a grandchild behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readlinkSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { constants as osConstants, setPriority } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { Containment } from './containment.ts';
import { findExecutable } from './executable.ts';
import { readStat, signalGroup, signalMembers, type TreeMember } from './proc-scan.ts';

/**
 * CLI start-up is CPU-heavy; a lower priority keeps the host thread responsive. It is set on
 * the group leader as soon as it exists; the launcher takes an exec or two before it forks the
 * CLI, which then inherits it.
 */
export const CHILD_NICENESS = 10;

export type ExitReport = {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
};

export type GroupChild = {
  readonly pid: number;
  /** The leader as a tree member (its start time tells it from a later process with its pid). */
  readonly leader: TreeMember;
  /** null when stdout was given a file descriptor. */
  readonly stdout: Readable | null;
  readonly stderr: Readable;
  /** Resolves when the leader has exited and its output streams are drained. */
  readonly done: Promise<ExitReport>;
};

/** Why a command could not start, and what was at fault: the command, the cwd, or the system. */
export type SpawnFailure = {
  readonly code: string;
  readonly message: string;
  readonly about: 'command' | 'cwd' | 'system';
};

export type SpawnOptions = {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Written to stdin, which is then closed (never left open: the CLI would wait for it). */
  readonly stdinText: string;
  /** A file descriptor to write stdout to instead of a pipe. */
  readonly stdoutFd?: number;
  /** Called synchronously as soon as the process exists, before anything else can happen. */
  readonly onPid?: (pid: number) => void;
  /** Run the command under this containment's launcher and guard; absent = a plain group. */
  readonly containment?: Containment;
};

/** Errors that say the system is short of something for now: a retry can succeed. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'ENOMEM']);
export const isTransientError = (code: string | undefined): boolean =>
  code !== undefined && TRANSIENT_CODES.has(code);

/**
 * The guard, run by the launcher: its trap SIGKILLs the whole group when it is signalled (the
 * launcher's pdeathsig when the spawning thread or the host dies, or a stop from the host). It
 * relays the prompt on stdin and the command's exit status (128 + n after a signal). In a PID
 * namespace it is PID 1, which receives only the signals it has handlers for (hence the trap)
 * and whose exit makes the kernel kill everything left in the namespace.
 *
 * A parent-death signal is armed by the child after its fork (setpriv's, unshare's): a parent
 * that dies in between leaves the child running with nobody to end it. Both are armed by the
 * time the guard runs, so it checks that the chain up to the host (its first argument) is still
 * whole, through `unshare` (the group's leader) in a namespace, and quits if it is not. /proc
 * shows the host's view of pids in both modes (the namespace gets no /proc of its own); where
 * /proc is not this process's own view, the host pid is passed empty and the check skipped.
 * Only a parent seen to have changed stops it: a leader it cannot read (gone since, or hidden)
 * proves nothing, and the guard's own signal is armed by then anyway.
 */
// An asynchronous command's stdin is /dev/null in a non-interactive shell, so the prompt pipe
// is passed through fd 3.
const GUARD_SCRIPT = [
  `trap 'trap - TERM INT HUP; kill -KILL 0' TERM INT HUP`,
  'host=$1; shift',
  'if [ -n "$host" ] && read -r _ _ _ up group _ </proc/self/stat; then',
  '  if [ "$up" = "$group" ]; then read -r _ _ _ up _ </proc/"$group"/stat || up=$host; fi',
  '  [ "$up" = "$host" ] || exit 125',
  'fi',
  'exec 3<&0; "$@" <&3 3<&- & exec 3<&-; wait $!; exit $?',
].join('\n');

const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/**
 * A failed spawn names its culprit: Node reports a missing cwd and a missing command alike
 * (`spawn X ENOENT`), so the cwd is checked before the command is blamed.
 */
function spawnFailure(error: NodeJS.ErrnoException, cwd: string): SpawnFailure {
  const code = error.code ?? 'UNKNOWN';
  const about = isTransientError(code) ? 'system' : isDirectory(cwd) ? 'command' : 'cwd';
  return { code, message: error.message, about };
}

let ownProc: boolean | undefined;
/** This process's pid, if /proc shows this process's own pid namespace; else ''. */
function hostPidForGuard(): string {
  if (ownProc === undefined) {
    try {
      ownProc = readlinkSync('/proc/self') === String(process.pid);
    } catch {
      ownProc = false;
    }
  }
  return ownProc ? String(process.pid) : '';
}

type Launch = { command: string; argv: readonly string[]; guarded: boolean };

function launch(
  file: string,
  args: readonly string[],
  options: SpawnOptions,
): { ok: true; launch: Launch } | { ok: false; failure: SpawnFailure } {
  const [command, ...prefix] = options.containment?.launcher ?? [];
  if (command === undefined)
    return { ok: true, launch: { command: file, argv: args, guarded: false } };
  // The guard would report a missing command only as exit 127: find it first.
  const found = findExecutable(file, options.env, options.cwd);
  if (!found.ok) return found;
  const argv = [
    ...prefix,
    '/bin/sh',
    '-c',
    GUARD_SCRIPT,
    'phone-opus-guard',
    hostPidForGuard(),
    found.path,
    ...args,
  ];
  return { ok: true, launch: { command, argv, guarded: true } };
}

const SIGNAL_NAMES = new Map(
  Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** The guard relays a command killed by signal n as exit status 128 + n: report it as the signal. */
function exitReport(
  exitCode: number | null,
  signal: NodeJS.Signals | null,
  guarded: boolean,
): ExitReport {
  const relayed =
    guarded && exitCode !== null && exitCode > 128 ? SIGNAL_NAMES.get(exitCode - 128) : undefined;
  return relayed === undefined ? { exitCode, signal } : { exitCode: null, signal: relayed };
}

/** The longest wait for output streams after the leader exits. */
const STREAM_DRAIN_MS = 2000;
/**
 * Once the leader has exited and its group is killed, a stream that stays open is held by a
 * process outside the group (only possible without a PID namespace). What the leader wrote is
 * already in the pipe and is read within a loop turn or two; after this long without a byte
 * the wait ends.
 */
const STREAM_QUIET_MS = 100;
const QUIET_CHECK_MS = 20;

/** Start `file` as a process-group leader; resolves once it is running, or with why it could not start. */
export function spawnInGroup(
  file: string,
  args: readonly string[],
  options: SpawnOptions,
): Promise<{ ok: true; child: GroupChild } | { ok: false; failure: SpawnFailure }> {
  const planned = launch(file, args, options);
  if (!planned.ok) return Promise.resolve(planned);
  const { command, argv, guarded } = planned.launch;
  const namespaced = options.containment?.mode === 'pid_namespace';
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(command, argv, {
        cwd: options.cwd,
        env: options.env,
        detached: true,
        stdio: ['pipe', options.stdoutFd ?? 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (error) {
      // Some failures are thrown rather than emitted (ENOTDIR for a cwd that became a file).
      resolve({ ok: false, failure: spawnFailure(error as NodeJS.ErrnoException, options.cwd) });
      return;
    }
    if (child.pid !== undefined) options.onPid?.(child.pid);
    child.once('error', (error: NodeJS.ErrnoException) => {
      resolve({ ok: false, failure: spawnFailure(error, options.cwd) });
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
      const streams = [stderr, ...(child.stdout === null ? [] : [child.stdout])];
      const done = new Promise<ExitReport>((settle) => {
        let report: ExitReport | undefined;
        let stopWaiting = () => {};
        child.once('exit', (exitCode, signal) => {
          report = exitReport(exitCode, signal, guarded);
          // Whatever is left of the group is a stray: killing it closes the pipes it holds. This
          // is the one moment the group may be signalled without a known member alive (its
          // number is free again once the group is empty); in a PID namespace nothing is left.
          if (!namespaced) signalGroup(pid, 'SIGKILL');
          stopWaiting = whenQuiet(streams, () => {
            for (const stream of streams) stream.destroy();
            settle(report as ExitReport);
          });
        });
        child.once('close', (exitCode, signal) => {
          stopWaiting();
          settle(report ?? exitReport(exitCode, signal, guarded));
        });
      });
      const leader = { pid, pgid: pid, start: readStat(String(pid))?.start ?? '' };
      resolve({ ok: true, child: { pid, leader, stdout: child.stdout ?? null, stderr, done } });
    });
  });
}

/** Calls `onQuiet` once no stream has delivered a byte for a while (or the drain bound passed). */
function whenQuiet(streams: readonly Readable[], onQuiet: () => void): () => void {
  const bytes = () => streams.reduce((n, s) => n + ((s as Partial<Socket>).bytesRead ?? 0), 0);
  const deadline = performance.now() + STREAM_DRAIN_MS;
  let last = bytes();
  let quietSince = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const seen = bytes();
    if (seen !== last) {
      last = seen;
      quietSince = now;
    }
    if (now - quietSince >= STREAM_QUIET_MS || now >= deadline) {
      clearInterval(timer);
      onQuiet();
    }
  }, QUIET_CHECK_MS);
  return () => clearInterval(timer);
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
  const timer = setTimeout(() => signalMembers([child.leader], 'SIGKILL'), options.timeoutMs);
  const report = await child.done;
  clearTimeout(timer);
  return { ok: true, exitCode: report.exitCode, stdout, stderr };
}
