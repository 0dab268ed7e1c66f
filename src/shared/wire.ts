/**
 * The only contract between the host thread and pool threads. Everything here crosses
 * `postMessage`, so it is plain data: no classes, no Error objects.
 */
import type { Containment } from './containment.ts';
import type { FaultRecord } from './fault.ts';
import type { TreeMember } from './proc-scan.ts';

/** Set once per pool through piscina's `workerData`. */
export type WorkerBoot = {
  /** Executable to spawn: an explicit path, or `claude` to search PATH. */
  readonly claudeBin: string;
  /** The child's environment: the host's, minus variables that make the CLI refuse to start. */
  readonly childEnv: Readonly<Record<string, string>>;
  /** Identifies the worker bundle a pool was built from (shown in full consult detail). */
  readonly build: string;
  /** Largest answer returned inline (PHONE_OPUS_MAX_ANSWER_BYTES). */
  readonly maxAnswerBytes: number;
  /** Where larger answers are saved (user-only files in the state dir). */
  readonly answersDir: string;
  /**
   * Canonical directories a consult may run in (PHONE_OPUS_ALLOWED_ROOTS), checked again on
   * the directory the CLI actually starts in; null = any directory.
   */
  readonly allowedRoots: readonly string[] | null;
  /** How the CLI's processes are held together (probed once by the host). */
  readonly containment: Containment;
};

/** A validated consult, ready to run. */
export type ConsultRequest = {
  readonly prompt: string;
  /** Canonical, existing directory. */
  readonly cwd: string;
  readonly maxTurns?: number;
  readonly model?: string;
  readonly maxBudgetUsd?: number;
  readonly resumeSessionId?: string;
};

export type ConsultTask = {
  readonly kind: 'consult';
  readonly taskId: number;
  readonly generation: number;
  readonly operation: string;
  readonly request: ConsultRequest;
  /** Test hook: end this thread right after the CLI has started. */
  readonly crashAfterSpawn: boolean;
  /**
   * Two Int32s the worker sets: [PID_INDEX] the CLI's pid the moment it exists, and
   * [STARTED_INDEX] 1 as soon as the task runs on a thread. Shared memory survives the thread:
   * a message posted just before a crash can be lost, this cannot.
   */
  readonly pidSlot: SharedArrayBuffer;
};

export const PID_INDEX = 0;
export const STARTED_INDEX = 1;
/** Bytes of a task's pid slot. */
export const PID_SLOT_BYTES = 8;

/** Readiness probe for a freshly built pool. */
export type PingTask = { readonly kind: 'ping' };
export type WorkerTask = ConsultTask | PingTask;
export type PingReply = { readonly status: 'pong'; readonly build: string };

export type ConsultSuccess = {
  readonly response: string;
  /** The directory the CLI actually ran in (it may differ from the request's if it changed). */
  readonly cwd: string;
  readonly session_id: string | null;
  readonly model: string | null;
  readonly num_turns: number;
  readonly duration_ms: number;
  readonly duration_api_ms: number | null;
  readonly stop_reason: string | null;
  readonly total_cost_usd: number | null;
  readonly usage: unknown;
  readonly model_usage: unknown;
  readonly permission_denials: readonly unknown[];
  readonly build: string;
};

/** What is known about a run that was stopped from outside (cancel, timeout, shutdown). */
export type Terminated = {
  readonly signal: string | null;
  readonly exit_code: number | null;
  readonly session_id: string | null;
  readonly num_turns: number;
  readonly elapsed_ms: number;
};

export type ConsultReply = (
  | { readonly status: 'ok'; readonly value: ConsultSuccess }
  | { readonly status: 'fault'; readonly fault: FaultRecord }
  | { readonly status: 'terminated'; readonly terminated: Terminated }
) & {
  /**
   * How many events the thread posted for this task before replying. Events travel on the
   * thread's parentPort and the reply on piscina's own port, so the reply may overtake them:
   * the host listens until it has this many.
   */
  readonly events?: number;
};

/** Live facts about a run, for progress notifications and timeout reports. */
export type ProgressEvent =
  | { readonly kind: 'session'; readonly session_id: string; readonly model: string | null }
  | { readonly kind: 'turn'; readonly turn: number; readonly tools: readonly string[] };

/**
 * Worker → host, over the thread's parentPort: in order among themselves, delivered even if the
 * thread dies next (before its 'exit'), but not ordered against the task's reply.
 */
export type WorkerEvent =
  | {
      readonly type: 'spawned';
      readonly taskId: number;
      readonly pgid: number;
      readonly start: string;
    }
  /** Processes seen in the CLI's tree, some possibly in sessions of their own. */
  | { readonly type: 'members'; readonly taskId: number; readonly members: readonly TreeMember[] }
  | { readonly type: 'reaped'; readonly taskId: number; readonly pgid: number }
  | { readonly type: 'progress'; readonly taskId: number; readonly event: ProgressEvent };

export const isWorkerEvent = (value: unknown): value is WorkerEvent =>
  typeof value === 'object' &&
  value !== null &&
  'type' in value &&
  'taskId' in value &&
  typeof (value as { taskId: unknown }).taskId === 'number';
