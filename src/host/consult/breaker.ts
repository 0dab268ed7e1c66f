/**
 * Restart-storm breaker (SPEC §6.5): more than `maxLosses` thread losses within `windowMs`
 * opens the circuit; consults are refused with a retry-after until the back-off passes, then
 * one probe is let through (half-open); a probe that completes without losing its thread
 * closes the circuit, a lost probe reopens it with a doubled back-off.
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

export type BreakerOptions = {
  readonly maxLosses: number;
  readonly windowMs: number;
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
};

export const DEFAULT_BREAKER: BreakerOptions = {
  maxLosses: 5,
  windowMs: 60_000,
  baseBackoffMs: 5_000,
  maxBackoffMs: 300_000,
};

export type Admit =
  | { readonly ok: true; readonly probe: boolean }
  | { readonly ok: false; readonly retryAfterMs: number };

export class CircuitBreaker {
  readonly #options: BreakerOptions;
  #losses: number[] = [];
  #state: CircuitState = 'closed';
  #openedAt = 0;
  #backoffMs: number;
  #probeOut = false;

  constructor(options: BreakerOptions = DEFAULT_BREAKER) {
    this.#options = options;
    this.#backoffMs = options.baseBackoffMs;
  }

  state(now: number): CircuitState {
    if (this.#state === 'open' && now - this.#openedAt >= this.#backoffMs) return 'half_open';
    return this.#state;
  }

  retryAfterMs(now: number): number {
    return this.#state === 'closed' ? 0 : Math.max(0, this.#openedAt + this.#backoffMs - now);
  }

  admit(now: number): Admit {
    const state = this.state(now);
    if (state === 'closed') return { ok: true, probe: false };
    if (state === 'half_open' && !this.#probeOut) {
      this.#state = 'half_open';
      this.#probeOut = true;
      return { ok: true, probe: true };
    }
    return { ok: false, retryAfterMs: Math.max(this.retryAfterMs(now), 1000) };
  }

  /** A replay is a dispatch too: only while the circuit is closed. */
  allowsReplay(now: number): boolean {
    return this.state(now) === 'closed';
  }

  recordLoss(now: number): void {
    this.#losses = this.#losses.filter((t) => now - t < this.#options.windowMs);
    this.#losses.push(now);
    if (this.#state === 'half_open') {
      this.#open(now, Math.min(this.#backoffMs * 2, this.#options.maxBackoffMs));
    } else if (this.#state === 'closed' && this.#losses.length > this.#options.maxLosses) {
      this.#open(now, this.#options.baseBackoffMs);
    }
  }

  /** The probe's run ended without losing its thread. */
  recordProbeSurvived(): void {
    if (this.#state !== 'half_open') return;
    this.#state = 'closed';
    this.#probeOut = false;
    this.#losses = [];
    this.#backoffMs = this.#options.baseBackoffMs;
  }

  /** The probe never ran (e.g. it was refused by the queue or cancelled before dispatch). */
  releaseProbe(): void {
    this.#probeOut = false;
  }

  #open(now: number, backoffMs: number): void {
    this.#state = 'open';
    this.#openedAt = now;
    this.#backoffMs = backoffMs;
    this.#probeOut = false;
  }
}
