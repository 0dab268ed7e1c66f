/**
 * Replay contracts (SPEC §6.3). `convergent`: a lost invocation may be dispatched once more.
 * `never_replay`: a lost invocation ends as `outcome_unknown`. A worker restart never
 * authorises a replay by itself; only the contract and the attempt count do.
 */
export type ReplayContract = 'convergent' | 'never_replay';
export const REPLAY_CONTRACTS: readonly ReplayContract[] = ['convergent', 'never_replay'];

/** At most one replay. */
export const MAX_ATTEMPTS = 2;

export const mayReplay = (contract: ReplayContract, attempts: number): boolean =>
  contract === 'convergent' && attempts < MAX_ATTEMPTS;
