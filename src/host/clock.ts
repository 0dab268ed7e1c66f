/** Time, injected so that tests can control it. */
export type Clock = {
  /** Wall time, ms since the epoch (timestamps). */
  readonly nowMs: () => number;
  /** Monotonic ms (durations). */
  readonly monotonicMs: () => number;
};

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
};
