/**
 * Runs consults with the guarantees of SPEC §6–§7: the gate (shutdown, circuit breaker,
 * admission: cap + FIFO queue), then one ConsultInvocation per consult, dispatched once or —
 * when its thread is lost or its pool drained and the replay contract allows — twice. Every
 * call ends in exactly one outcome (outcome-faults.ts says which).
 */
import { mayReplay, type ReplayContract } from '../../shared/replay.ts';
import type { Clock } from '../clock.ts';
import type { TaskEvents } from '../pool/task-events.ts';
import type { TreeRegistry } from '../pool/tree-registry.ts';
import type { WorkerPool } from '../pool/worker-pool.ts';
import type { Admission } from './admission.ts';
import {
  type AttemptRecord,
  CONSULT_OPERATION,
  type ConsultCall,
  ConsultInvocation,
} from './invocation.ts';
import {
  type ConsultOutcome,
  circuitOpen,
  concluded,
  drained,
  overloaded,
  shuttingDown,
  threadLost,
  unstarted,
} from './outcome-faults.ts';
import type { Supervisor } from './supervisor.ts';

export type ConsultServiceDeps = {
  /** The pool to dispatch to; rejects when none can be built right now. */
  readonly pool: () => Promise<WorkerPool>;
  readonly events: TaskEvents;
  readonly registry: TreeRegistry;
  readonly supervisor: Supervisor;
  readonly admission: Admission;
  readonly clock: Clock;
  readonly contract: ReplayContract;
  /** Test hook (SPEC §6.5): true exactly once for the configured operation. */
  readonly takeCrashHook: (operation: string) => boolean;
};

export class ConsultService {
  readonly #deps: ConsultServiceDeps;
  readonly #active = new Set<ConsultInvocation>();
  #nextTaskId = 1;
  #shuttingDown = false;

  constructor(deps: ConsultServiceDeps) {
    this.#deps = deps;
  }

  /** Consults admitted and not yet answered. */
  get inFlight(): number {
    return this.#active.size;
  }

  async run(call: ConsultCall): Promise<ConsultOutcome> {
    const { supervisor, admission, clock } = this.#deps;
    if (this.#shuttingDown) return shuttingDown(supervisor.generation, true);
    const gate = supervisor.breaker.admit(clock.monotonicMs());
    if (!gate.ok) return circuitOpen(supervisor.generation, gate.retryAfterMs);
    const admitted = await admission.acquire(call.signal);
    if (admitted.kind !== 'admitted') {
      if (gate.probe) supervisor.breaker.releaseProbe();
      if (admitted.kind === 'aborted') return { kind: 'cancelled', attempts: 0 };
      if (admitted.kind === 'closed') return shuttingDown(supervisor.generation, false);
      return overloaded(supervisor.generation, {
        running: admission.running,
        queued: admission.queued,
        capacity: admission.capacity,
      });
    }
    const invocation = new ConsultInvocation(call, {
      events: this.#deps.events,
      registry: this.#deps.registry,
      clock,
      nextTaskId: () => this.#nextTaskId++,
    });
    this.#active.add(invocation);
    try {
      const { outcome, threadHeld } = await this.#dispatch(invocation);
      // A half-open probe closes the circuit only if a thread ran it and survived.
      if (gate.probe && threadHeld) supervisor.breaker.recordProbeSurvived();
      else if (gate.probe) supervisor.breaker.releaseProbe();
      return outcome;
    } finally {
      this.#active.delete(invocation);
      invocation.dispose();
      admitted.release();
    }
  }

  async #dispatch(
    invocation: ConsultInvocation,
  ): Promise<{ outcome: ConsultOutcome; threadHeld: boolean }> {
    const { supervisor } = this.#deps;
    let threadHeld = false;
    for (let attempts = 1; ; attempts += 1) {
      let pool: WorkerPool;
      try {
        // A replay goes to whatever pool is current now (a lost thread's pool may be rolled).
        pool = await this.#deps.pool();
      } catch (error) {
        const outcome = unstarted(supervisor.generation, (error as Error).message, attempts - 1);
        return { outcome, threadHeld };
      }
      const record = await invocation.attempt(
        pool,
        supervisor.generation,
        attempts,
        this.#deps.takeCrashHook(CONSULT_OPERATION),
      );
      threadHeld = record.result.kind === 'reply' || record.result.kind === 'stopped';
      const outcome = this.#account(invocation, record, attempts);
      if (outcome !== 'replay') return { outcome, threadHeld };
    }
  }

  /** How an attempt ends the consult, or that it is to be dispatched once more. */
  #account(
    invocation: ConsultInvocation,
    record: AttemptRecord,
    attempts: number,
  ): ConsultOutcome | 'replay' {
    const { supervisor, clock, contract } = this.#deps;
    const { result } = record;
    const facts = {
      generation: supervisor.generation,
      attempts,
      sessionId: invocation.sessionId,
      turns: invocation.turns,
    };
    const replayable = mayReplay(contract, attempts) && !this.#shuttingDown;
    if (record.stop === 'drain_timeout') {
      return replayable ? 'replay' : drained(supervisor.generation, attempts);
    }
    if (result.kind === 'reply') supervisor.recovered(); // the thread survived
    if (result.kind === 'reply' || result.kind === 'stopped') return concluded(record, facts);
    if (invocation.cancelled) return { kind: 'cancelled', attempts };
    if (result.kind === 'unstarted')
      return unstarted(supervisor.generation, result.message, attempts);
    if (replayable && supervisor.breaker.allowsReplay(clock.monotonicMs())) return 'replay';
    return threadLost(facts, result.message, contract);
  }

  /** Stop the consults still running on a replaced pool (its drain bound has passed). */
  stopPool(pool: WorkerPool): void {
    for (const invocation of this.#active) {
      if (invocation.pool === pool) invocation.stop('drain_timeout');
    }
  }

  /** Whether the server is shutting down (it refuses new consults). */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Refuse new consults and stop every running one (shutdown). */
  beginShutdown(): void {
    this.#shuttingDown = true;
    this.#deps.admission.closeQueue();
    for (const invocation of this.#active) invocation.stop('shutdown');
  }
}
