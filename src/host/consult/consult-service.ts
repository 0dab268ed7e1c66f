import { type FaultRecord, faults, markRetried, type Site } from '../../shared/fault.ts';
import { processRunning } from '../../shared/proc-scan.ts';
import { mayReplay, type ReplayContract } from '../../shared/replay.ts';
import {
  type ConsultReply,
  type ConsultRequest,
  type ConsultSuccess,
  PID_SLOT_BYTES,
  type ProgressEvent,
  type WorkerEvent,
} from '../../shared/wire.ts';
import type { Clock } from '../clock.ts';
import type { KillReason, ProcessRegistry } from '../pool/tree-registry.ts';
import { ThreadStartError, type WorkerPool } from '../pool/worker-pool.ts';
import type { Admission } from './admission.ts';
import type { ProgressReporter } from './progress.ts';
import type { Supervisor } from './supervisor.ts';

/**
 * Runs consults on the pool with the guarantees of SPEC §6–§7: admission (cap + FIFO queue),
 * the circuit breaker, the invocation ledger and replay contract, per-call timeout,
 * cancellation and progress. Every call ends in exactly one outcome.
 */

export type ConsultCall = {
  readonly request: ConsultRequest;
  readonly timeoutMs: number;
  /** Aborted when the client cancels the request. */
  readonly signal: AbortSignal;
  readonly progress: ProgressReporter | undefined;
};

export type ConsultOutcome =
  | {
      readonly kind: 'ok';
      readonly value: ConsultSuccess;
      readonly generation: number;
      readonly attempts: number;
    }
  | { readonly kind: 'fault'; readonly fault: FaultRecord; readonly attempts: number }
  | { readonly kind: 'cancelled'; readonly attempts: number };

/** Execution knowledge of one invocation (SPEC §6.3). */
export type LedgerState = 'not_dispatched' | 'in_flight' | 'completed' | 'outcome_unknown';

type Invocation = {
  readonly taskId: number;
  state: LedgerState;
  stop: KillReason | undefined;
  sessionId: string | null;
  turns: number;
  readonly startedAt: number;
  readonly progress: ProgressReporter | undefined;
  readonly pidSlot: SharedArrayBuffer;
  pool: WorkerPool | undefined;
  /**
   * Whether the CLI had already exited when the stop was requested. Only then may its answer
   * stand: a CLI that is stopped while running may react by answering (the real one ends its
   * tool, runs one more turn and exits 0), and that answer is the stop's doing.
   */
  exitedBeforeStop: boolean;
};

type Attempt =
  | { readonly kind: 'reply'; readonly reply: ConsultReply; readonly generation: number }
  | { readonly kind: 'lost'; readonly message: string }
  /** No thread could be started for it: nothing ran. */
  | { readonly kind: 'unstarted'; readonly message: string }
  | { readonly kind: 'stopped'; readonly reason: KillReason };

export type RunnerDeps = {
  /** The pool to dispatch to; throws when none can be built right now. */
  readonly pool: () => Promise<WorkerPool>;
  readonly registry: ProcessRegistry;
  readonly supervisor: Supervisor;
  readonly admission: Admission;
  readonly clock: Clock;
  readonly contract: ReplayContract;
  /** Test hook (SPEC §6.5): true exactly once for the configured operation. */
  readonly takeCrashHook: (operation: string) => boolean;
  readonly onRetry: (operation: string) => void;
};

export const CONSULT_OPERATION = 'tools/call:consult';
/** After a stop is requested, how long the worker gets to answer before its thread is ended. */
const STOP_BACKSTOP_MS = 5000;

export class ConsultRunner {
  readonly #deps: RunnerDeps;
  readonly #active = new Map<number, Invocation>();
  #nextTaskId = 1;
  #shuttingDown = false;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
  }

  get inFlight(): number {
    return this.#active.size;
  }

  /** Route a worker's report to its invocation and the process registry. */
  onWorkerEvent(event: WorkerEvent): void {
    switch (event.type) {
      case 'spawned':
        this.#deps.registry.add(event.taskId, event.pgid, event.start);
        break;
      case 'members':
        this.#deps.registry.addMembers(event.taskId, event.members);
        break;
      case 'reaped':
        this.#deps.registry.remove(event.taskId, event.pgid);
        break;
      case 'progress': {
        const inv = this.#active.get(event.taskId);
        if (inv !== undefined) this.#note(inv, event.event);
        break;
      }
    }
  }

  async run(call: ConsultCall): Promise<ConsultOutcome> {
    const { supervisor, admission, clock } = this.#deps;
    const site = (stage: Site['stage']): Site => ({
      generation: supervisor.generation,
      stage,
      operation: CONSULT_OPERATION,
    });
    if (this.#shuttingDown) {
      return {
        kind: 'fault',
        fault: faults.transportFailure(site('host'), 'the server is shutting down'),
        attempts: 0,
      };
    }
    const gate = supervisor.breaker.admit(clock.monotonicMs());
    if (!gate.ok) {
      return {
        kind: 'fault',
        fault: faults.circuitOpen(
          site('host'),
          `consults are paused: worker threads were lost repeatedly (circuit open); retry in ${Math.ceil(gate.retryAfterMs / 1000)} s`,
          gate.retryAfterMs,
        ),
        attempts: 0,
      };
    }
    const admitted = await admission.acquire(call.signal);
    if (admitted.kind !== 'admitted') {
      if (gate.probe) supervisor.breaker.releaseProbe();
      if (admitted.kind === 'aborted') return { kind: 'cancelled', attempts: 0 };
      if (admitted.kind === 'closed') {
        return {
          kind: 'fault',
          fault: faults.transportFailure(
            site('host'),
            'the server is shutting down; the consult never started',
          ),
          attempts: 0,
        };
      }
      const retryAfterMs = 5000;
      return {
        kind: 'fault',
        fault: faults.overloaded(
          site('host'),
          `server busy: ${admission.running} consults running and ${admission.queued} queued (PHONE_OPUS_MAX_CONCURRENCY=${admission.capacity}, PHONE_OPUS_MAX_QUEUE full)`,
          retryAfterMs,
        ),
        attempts: 0,
      };
    }
    try {
      let pool: WorkerPool;
      try {
        pool = await this.#deps.pool();
      } catch (error) {
        // Nothing ran: a transient shortage (EMFILE) is worth a retry, and is not a lost thread.
        if (gate.probe) supervisor.breaker.releaseProbe();
        return {
          kind: 'fault',
          fault: faults.processFailure(
            site('host'),
            `consults cannot start: the worker pool could not be built (${(error as Error).message}); nothing ran`,
            {
              message: 'retry in a moment; if it persists, run `phone-opus doctor`.',
              retry_after_ms: 1000,
            },
            true,
          ),
          attempts: 0,
        };
      }
      const outcome = await this.#dispatchWithReplay(call, pool);
      if (gate.probe) {
        if (outcome.kind === 'fault' && outcome.fault.fault.code === 'outcome_unknown')
          supervisor.breaker.releaseProbe();
        else supervisor.breaker.recordProbeSurvived();
      }
      return outcome;
    } finally {
      admitted.release();
    }
  }

  async #dispatchWithReplay(call: ConsultCall, firstPool: WorkerPool): Promise<ConsultOutcome> {
    const { supervisor, clock, registry } = this.#deps;
    for (let attempts = 1; ; attempts += 1) {
      const inv: Invocation = {
        taskId: this.#nextTaskId++,
        state: 'not_dispatched',
        stop: undefined,
        sessionId: null,
        turns: 0,
        startedAt: clock.monotonicMs(),
        progress: call.progress,
        pidSlot: new SharedArrayBuffer(PID_SLOT_BYTES),
        pool: undefined,
        exitedBeforeStop: false,
      };
      const attempt = await this.#attempt(
        call,
        inv,
        attempts,
        attempts === 1 ? firstPool : undefined,
      );
      if (inv.stop === 'drain_timeout') {
        // Its pool was rolled out and the consult outlived the drain bound: it was stopped.
        await registry.stop(inv.taskId, 'drain_timeout');
        if (mayReplay(this.#deps.contract, attempts) && !this.#shuttingDown) {
          this.#deps.onRetry(CONSULT_OPERATION);
          continue;
        }
        const at: Site = {
          generation: supervisor.generation,
          stage: 'rollout',
          operation: CONSULT_OPERATION,
        };
        const fault = faults.rolloutFailure(
          at,
          'the consult outlived the drain bound of a replaced worker pool and was stopped; re-issue it (or resume its session)',
        );
        return { kind: 'fault', fault: attempts > 1 ? markRetried(fault) : fault, attempts };
      }
      if (attempt.kind === 'stopped' || attempt.kind === 'reply') {
        return this.#conclude(inv, attempt, attempts);
      }
      if (attempt.kind === 'unstarted') {
        if (inv.stop === 'cancelled') return { kind: 'cancelled', attempts };
        return {
          kind: 'fault',
          fault: unstarted(supervisor.generation, attempt.message),
          attempts,
        };
      }
      // The thread died with the consult in flight: its CLI may have run. Make sure it is gone.
      inv.state = 'outcome_unknown';
      registry.adopt(inv.taskId, Atomics.load(new Int32Array(inv.pidSlot), 0));
      await registry.stop(inv.taskId, 'thread_lost');
      registry.forget(inv.taskId);
      if (inv.stop === 'cancelled') return { kind: 'cancelled', attempts };
      const at: Site = {
        generation: supervisor.generation,
        stage: 'worker',
        operation: CONSULT_OPERATION,
      };
      if (
        mayReplay(this.#deps.contract, attempts) &&
        !this.#shuttingDown &&
        supervisor.breaker.allowsReplay(clock.monotonicMs())
      ) {
        this.#deps.onRetry(CONSULT_OPERATION);
        continue;
      }
      const detail =
        attempts > 1
          ? `the worker thread running this consult was lost again on the replay (${attempt.message}); outcome unknown`
          : `the worker thread running this consult was lost (${attempt.message}); the consult may have run, and it was not replayed (replay contract ${this.#deps.contract})`;
      const fault = faults.outcomeUnknown(at, detail);
      return { kind: 'fault', fault: attempts > 1 ? markRetried(fault) : fault, attempts };
    }
  }

  async #attempt(
    call: ConsultCall,
    inv: Invocation,
    attempts: number,
    given: WorkerPool | undefined,
  ): Promise<Attempt> {
    const { supervisor, registry } = this.#deps;
    // A replay goes to whatever pool is current now (a lost thread's pool may have been rolled).
    const pool = given ?? (await this.#deps.pool());
    inv.pool = pool;
    const generation = supervisor.generation;
    this.#active.set(inv.taskId, inv);
    const hardStop = new AbortController();
    let settleStopped: ((reason: KillReason) => void) | undefined;
    const stopped = new Promise<Attempt>((resolve) => {
      settleStopped = (reason) => resolve({ kind: 'stopped', reason });
    });
    const requestStop = (reason: KillReason) => {
      if (inv.stop !== undefined || inv.state === 'completed') return;
      inv.stop = reason;
      const pid = Atomics.load(new Int32Array(inv.pidSlot), 0);
      inv.exitedBeforeStop = pid > 0 && !processRunning(pid);
      registry.adopt(inv.taskId, pid);
      void registry.stop(inv.taskId, reason);
      // A cancelled call frees its slot at once; the others wait for the worker's account.
      if (reason === 'cancelled') settleStopped?.(reason);
      const backstop = setTimeout(() => {
        hardStop.abort();
        settleStopped?.(reason);
      }, STOP_BACKSTOP_MS);
      backstop.unref();
    };
    const timer = setTimeout(() => requestStop('timeout'), call.timeoutMs);
    const onAbort = () => requestStop('cancelled');
    call.signal.addEventListener('abort', onAbort, { once: true });
    this.#stoppers.set(inv.taskId, requestStop);
    if (call.signal.aborted) onAbort();
    inv.progress?.started(attempts);
    inv.state = 'in_flight';
    try {
      const running = pool
        .runConsult(
          {
            kind: 'consult',
            taskId: inv.taskId,
            generation,
            operation: CONSULT_OPERATION,
            request: call.request,
            crashAfterSpawn: this.#deps.takeCrashHook(CONSULT_OPERATION),
            pidSlot: inv.pidSlot,
          },
          hardStop.signal,
        )
        .then(
          (reply): Attempt => ({ kind: 'reply', reply, generation }),
          (error: Error): Attempt =>
            error instanceof ThreadStartError
              ? { kind: 'unstarted', message: error.message }
              : { kind: 'lost', message: error.message },
        );
      const result = await Promise.race([running, stopped]);
      if (result.kind === 'reply' || result.kind === 'unstarted') inv.state = 'completed';
      if (result.kind === 'stopped') {
        // The worker may still answer; whatever it says, this call is over.
        void running.then(() => registry.forget(inv.taskId));
        registry.poison(inv.taskId, result.reason);
      } else if (result.kind === 'reply' || result.kind === 'unstarted') {
        registry.forget(inv.taskId);
      }
      // 'lost': the caller kills the dead thread's tree first, then forgets the task.
      return result;
    } finally {
      clearTimeout(timer);
      call.signal.removeEventListener('abort', onAbort);
      this.#stoppers.delete(inv.taskId);
      this.#active.delete(inv.taskId);
    }
  }

  readonly #stoppers = new Map<number, (reason: KillReason) => void>();

  #conclude(inv: Invocation, attempt: Attempt, attempts: number): ConsultOutcome {
    const { supervisor, clock } = this.#deps;
    const at: Site = {
      generation: supervisor.generation,
      stage: 'host',
      operation: CONSULT_OPERATION,
    };
    if (
      attempt.kind === 'reply' &&
      attempt.reply.status === 'ok' &&
      (inv.stop === undefined || inv.exitedBeforeStop)
    ) {
      // Finished before the stop came (the same instant as the timer): the answer stands.
      supervisor.recovered();
      return { kind: 'ok', value: attempt.reply.value, generation: attempt.generation, attempts };
    }
    if (attempt.kind === 'reply') supervisor.recovered(); // the thread survived
    const reason = inv.stop ?? (attempt.kind === 'stopped' ? attempt.reason : undefined);
    if (reason === 'cancelled') return { kind: 'cancelled', attempts };
    const terminated =
      attempt.kind === 'reply' && attempt.reply.status === 'terminated'
        ? attempt.reply.terminated
        : undefined;
    const sessionId = inv.sessionId ?? terminated?.session_id ?? null;
    const turns = Math.max(inv.turns, terminated?.num_turns ?? 0);
    const elapsed = Math.round(clock.monotonicMs() - inv.startedAt);
    const known = {
      ...(sessionId === null ? {} : { session_id: sessionId }),
      num_turns: turns,
      elapsed_ms: elapsed,
    };
    if (reason === 'timeout') {
      return {
        kind: 'fault',
        fault: faults.timeout(
          at,
          `consult timed out after ${(elapsed / 1000).toFixed(1)} s (${turns} turns); Claude Code was stopped`,
          {
            ...known,
            message:
              sessionId === null
                ? 'Claude Code had not started a session yet; retry with a larger timeout_s.'
                : `resume with session_id ${sessionId} (and a larger timeout_s) to continue where it stopped.`,
          },
        ),
        attempts,
      };
    }
    if (reason !== undefined) {
      return {
        kind: 'fault',
        fault: faults.transportFailure(
          at,
          `consult stopped: the server is ${reason === 'shutdown' ? 'shutting down' : 'draining'}`,
          {
            ...known,
            message: 'retry on a running server; resume with session_id if one is given.',
          },
        ),
        attempts,
      };
    }
    if (attempt.kind === 'reply' && attempt.reply.status === 'fault') {
      return { kind: 'fault', fault: attempt.reply.fault, attempts };
    }
    const how = terminated?.signal ?? 'a signal';
    return {
      kind: 'fault',
      fault: faults.downstreamFailure(
        { ...at, stage: 'claude' },
        'cli_error',
        `Claude Code was killed by ${how} from outside phone-opus`,
        { ...known, message: 'retry; resume with session_id if one is given.' },
      ),
      attempts,
    };
  }

  #note(inv: Invocation, event: ProgressEvent): void {
    if (event.kind === 'session') inv.sessionId = event.session_id;
    else inv.turns = Math.max(inv.turns, event.turn);
    inv.progress?.event(event);
  }

  /** Stop the consults still running on a replaced pool (its drain bound has passed). */
  stopPool(pool: WorkerPool): void {
    for (const [taskId, inv] of this.#active) {
      if (inv.pool === pool) this.#stoppers.get(taskId)?.('drain_timeout');
    }
  }

  /** Refuse new consults and stop every running one (shutdown). */
  beginShutdown(): void {
    this.#shuttingDown = true;
    this.#deps.admission.closeQueue();
    for (const stop of this.#stoppers.values()) stop('shutdown');
  }
}

/** Nothing ran: a transient shortage (EMFILE) is worth a retry, and no thread was lost. */
const unstarted = (generation: number, why: string): FaultRecord =>
  faults.processFailure(
    { generation, stage: 'host', operation: CONSULT_OPERATION },
    `the consult could not start: no worker thread could be started (${why}); nothing ran`,
    {
      message: 'retry in a moment; if it persists, run `phone-opus doctor`.',
      retry_after_ms: 1000,
    },
    true,
  );
