/**
 * Faults for everything that can go wrong before and around the CLI's start (SPEC §6.5): each
 * is a `process_failure` returned as data, never a rejected task, so it is not mistaken for a
 * lost thread (no generation bump, no "may have run", no breaker count). Each names what
 * failed; only exhaustion (descriptors, memory) is worth retrying as is.
 */
import { tmpdir } from 'node:os';
import { createFault, type FaultRecord, type Site } from '../shared/fault.ts';
import { isTransientError, type SpawnFailure } from '../shared/process-tree.ts';
import type { PinFailure } from './working-dir.ts';

const INSTALL_HINT =
  'Install Claude Code (npm install -g @anthropic-ai/claude-code) or set PHONE_OPUS_CLAUDE_BIN to its path.';
const CWD_HINT = 'The directory changed after the consult was accepted; check it and re-issue.';
const RETRY_HINT = 'The server is short of file descriptors or memory for now; retry shortly.';

type Errno = { readonly code: string; readonly message: string };

const exhausted = (at: Site, what: string, error: Errno): FaultRecord =>
  createFault(
    'process_failure',
    at,
    `${what}: out of file descriptors or memory (${error.code}: ${error.message})`,
    { hint: { message: RETRY_HINT }, retryable: true },
  );

/** The consult's cwd could not be pinned, or lies outside the allowed roots now. */
export function cwdFault(
  at: Site,
  path: string,
  failure: PinFailure,
  allowedRoots: readonly string[] | null,
): FaultRecord {
  if (failure.kind === 'outside') {
    return createFault(
      'invalid_input',
      at,
      `cwd: ${path} now resolves to ${failure.realPath}, outside the allowed roots (PHONE_OPUS_ALLOWED_ROOTS=${(allowedRoots ?? []).join(':')}); it changed after the consult was accepted, and Claude Code was not started`,
    );
  }
  if (isTransientError(failure.code))
    return exhausted(at, `cwd: ${path} cannot be opened`, failure);
  const state =
    failure.code === 'ENOENT'
      ? 'no longer exists'
      : failure.code === 'ENOTDIR'
        ? 'is no longer a directory'
        : 'cannot be opened';
  return createFault(
    'process_failure',
    at,
    `cwd: ${path} ${state} (${failure.code}: ${failure.message}); Claude Code was not started`,
    { hint: { message: CWD_HINT } },
  );
}

/** The private output file (under TMPDIR) could not be created. */
export function tmpdirFault(at: Site, error: unknown): FaultRecord {
  const e = errnoOf(error);
  const what = `cannot create the CLI's output file in TMPDIR (${tmpdir()})`;
  if (isTransientError(e.code)) return exhausted(at, what, e);
  return createFault('process_failure', at, `${what}: ${e.code}: ${e.message}`, {
    hint: {
      message:
        'Point TMPDIR at an existing, writable directory (or unset it) and restart the server.',
    },
  });
}

/** The CLI could not be started: its binary, its cwd, or the system is to blame. */
export function spawnFault(at: Site, bin: string, cwd: string, failure: SpawnFailure): FaultRecord {
  if (failure.about === 'system' || isTransientError(failure.code))
    return exhausted(at, `Claude Code CLI could not be started (${bin})`, failure);
  if (failure.about === 'cwd') {
    return createFault(
      'process_failure',
      at,
      `cwd: ${cwd} could not be entered (${failure.code}: ${failure.message}); Claude Code was not started`,
      { hint: { message: CWD_HINT } },
    );
  }
  const detail =
    failure.code === 'ENOENT'
      ? `Claude Code CLI not found: ${bin} (${failure.code})`
      : failure.code === 'EACCES'
        ? `Claude Code CLI is not executable: ${bin} (${failure.code})`
        : `Claude Code CLI could not be started: ${bin}: ${failure.message}`;
  return createFault('process_failure', at, detail, { hint: { message: INSTALL_HINT } });
}

/** Anything else the worker caught while running a consult. */
export function workerFault(at: Site, error: unknown): FaultRecord {
  const e = errnoOf(error);
  const what = 'the consult failed in its worker thread';
  if (isTransientError(e.code)) return exhausted(at, what, e);
  return createFault(
    'process_failure',
    at,
    `${what}: ${e.code === 'UNKNOWN' ? '' : `${e.code}: `}${e.message}`,
  );
}

function errnoOf(error: unknown): Errno {
  if (error instanceof Error) {
    return { code: (error as NodeJS.ErrnoException).code ?? 'UNKNOWN', message: error.message };
  }
  return { code: 'UNKNOWN', message: String(error) };
}
