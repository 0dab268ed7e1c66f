/**
 * Generations and recovery state (SPEC §6.2, §6.5): the generation starts at 1 and rises by
 * one per lost thread or pool rollout, never decreasing; the breaker watches the loss rate.
 */
import type { FaultRecord } from '../../shared/fault.ts';
import type { Clock } from '../clock.ts';
import { CircuitBreaker } from './breaker.ts';

export class Supervisor {
  #generation = 1;
  #restartCount = 0;
  #rollouts = 0;
  #consecutiveFailures = 0;
  #lastFault: FaultRecord | null = null;
  #lastLossAt: number | null = null;
  #lastRecoveryAt: number | null = null;
  #starved = false;
  readonly breaker: CircuitBreaker;
  readonly #clock: Clock;

  constructor(clock: Clock, breaker = new CircuitBreaker()) {
    this.#clock = clock;
    this.breaker = breaker;
  }

  get generation(): number {
    return this.#generation;
  }
  get restartCount(): number {
    return this.#restartCount;
  }
  get rollouts(): number {
    return this.#rollouts;
  }
  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }
  get lastFault(): FaultRecord | null {
    return this.#lastFault;
  }

  /** A worker thread died (crash, OOM, exit, forced termination). */
  threadLost(): void {
    this.#generation += 1;
    this.#restartCount += 1;
    this.#lastLossAt = this.#clock.monotonicMs();
    this.breaker.recordLoss(this.#clock.monotonicMs());
  }

  /** A new worker pool took over. */
  rolled(): void {
    this.#generation += 1;
    this.#rollouts += 1;
  }

  /** An operational fault (not a caller's input mistake) ended a call. */
  fault(fault: FaultRecord): void {
    this.#lastFault = fault;
    if (fault.fault.code !== 'invalid_input') this.#consecutiveFailures += 1;
    // A shortage that passes by itself (EMFILE, ENOMEM): consults cannot start for now.
    if (fault.fault.code === 'process_failure' && fault.retryable) this.#starved = true;
  }

  /** The last consult could not start for want of a resource, and none has run since. */
  get starved(): boolean {
    return this.#starved;
  }

  /** A consult ran to completion on a live thread. */
  recovered(): void {
    this.#starved = false;
    this.#consecutiveFailures = 0;
    this.#lastRecoveryAt = this.#clock.monotonicMs();
  }

  /** A thread was lost and no consult has completed since. */
  get recovering(): boolean {
    return (
      this.#lastLossAt !== null &&
      (this.#lastRecoveryAt === null || this.#lastRecoveryAt < this.#lastLossAt)
    );
  }
}
