/**
 * How a consult ends, as a pure function of what happened (SPEC §6–§7): the gate's refusals,
 * a thread that could not start or was lost, a drained pool, and the account of an attempt
 * (an answer, a fault from the worker, or a stop: cancel, timeout, shutdown).
 */
import { createFault, type FaultRecord, markRetried, type Site } from '../../shared/fault.ts';
import type { ReplayContract } from '../../shared/replay.ts';
import type { ConsultSuccess } from '../../shared/wire.ts';
import { type AttemptRecord, CONSULT_OPERATION } from './invocation.ts';

export type ConsultOutcome =
  | {
      readonly kind: 'ok';
      readonly value: ConsultSuccess;
      readonly generation: number;
      readonly attempts: number;
    }
  | { readonly kind: 'fault'; readonly fault: FaultRecord; readonly attempts: number }
  | { readonly kind: 'cancelled'; readonly attempts: number };

/** What the host knows about the consult when an attempt ends. */
export type ConsultFacts = {
  readonly generation: number;
  readonly attempts: number;
  readonly sessionId: string | null;
  readonly turns: number;
};

/** Where a consult's fault arose. */
export const consultSite = (generation: number, stage: Site['stage']): Site => ({
  generation,
  stage,
  operation: CONSULT_OPERATION,
});
const failed = (fault: FaultRecord, attempts: number): ConsultOutcome => ({
  kind: 'fault',
  fault: attempts > 1 ? markRetried(fault) : fault,
  attempts,
});

export const shuttingDown = (generation: number, started: boolean): ConsultOutcome =>
  failed(
    createFault(
      'transport_failure',
      consultSite(generation, 'host'),
      started
        ? 'the server is shutting down'
        : 'the server is shutting down; the consult never started',
    ),
    0,
  );

export const circuitOpen = (generation: number, retryAfterMs: number): ConsultOutcome =>
  failed(
    createFault(
      'circuit_open',
      consultSite(generation, 'host'),
      `consults are paused: worker threads were lost repeatedly (circuit open); retry in ${Math.ceil(retryAfterMs / 1000)} s`,
      { retryAfterMs },
    ),
    0,
  );

/** A retry is worth it once a slot is likely free. */
const OVERLOADED_RETRY_MS = 5000;

export const overloaded = (
  generation: number,
  load: { running: number; queued: number; capacity: number },
): ConsultOutcome =>
  failed(
    createFault(
      'overloaded',
      consultSite(generation, 'host'),
      `server busy: ${load.running} consults running and ${load.queued} queued (PHONE_OPUS_MAX_CONCURRENCY=${load.capacity}, PHONE_OPUS_MAX_QUEUE full)`,
      { retryAfterMs: OVERLOADED_RETRY_MS },
    ),
    0,
  );

/** Nothing ran: a transient shortage (EMFILE) is worth a retry, and no thread was lost. */
export const unstarted = (generation: number, why: string, attempts: number): ConsultOutcome =>
  failed(
    createFault(
      'process_failure',
      consultSite(generation, 'host'),
      `the consult could not start: no worker thread could be started (${why}); nothing ran`,
      {
        hint: {
          message: 'retry in a moment; if it persists, run `phone-opus doctor`.',
          retry_after_ms: 1000,
        },
        retryable: true,
      },
    ),
    attempts,
  );

/** Its pool was rolled out and the consult outlived the drain bound: it was stopped. */
export const drained = (generation: number, attempts: number): ConsultOutcome =>
  failed(
    createFault(
      'rollout_failure',
      consultSite(generation, 'rollout'),
      'the consult outlived the drain bound of a replaced worker pool and was stopped; re-issue it (or resume its session)',
    ),
    attempts,
  );

/** Its thread died with it in flight and it may not (or may no longer) be replayed. */
export const threadLost = (
  facts: ConsultFacts,
  message: string,
  contract: ReplayContract,
): ConsultOutcome =>
  failed(
    createFault(
      'outcome_unknown',
      consultSite(facts.generation, 'worker'),
      facts.attempts > 1
        ? `the worker thread running this consult was lost again on the replay (${message}); outcome unknown`
        : `the worker thread running this consult was lost (${message}); the consult may have run, and it was not replayed (replay contract ${contract})`,
    ),
    facts.attempts,
  );

/** The account of an attempt that got a reply or was stopped. */
export function concluded(record: AttemptRecord, facts: ConsultFacts): ConsultOutcome {
  const { result, stop } = record;
  const at = consultSite(facts.generation, 'host');
  const { attempts } = facts;
  if (
    result.kind === 'reply' &&
    result.reply.status === 'ok' &&
    (stop === undefined || record.exitedBeforeStop)
  ) {
    // Finished before the stop came (the same instant as the timer): the answer stands.
    return { kind: 'ok', value: result.reply.value, generation: result.generation, attempts };
  }
  const reason = stop ?? (result.kind === 'stopped' ? result.reason : undefined);
  if (reason === 'cancelled') return { kind: 'cancelled', attempts };
  const terminated =
    result.kind === 'reply' && result.reply.status === 'terminated'
      ? result.reply.terminated
      : undefined;
  const sessionId = facts.sessionId ?? terminated?.session_id ?? null;
  const turns = Math.max(facts.turns, terminated?.num_turns ?? 0);
  const known = {
    ...(sessionId === null ? {} : { session_id: sessionId }),
    num_turns: turns,
    elapsed_ms: record.elapsedMs,
  };
  if (reason === 'timeout') {
    return failed(
      createFault(
        'timeout',
        at,
        `consult timed out after ${(record.elapsedMs / 1000).toFixed(1)} s (${turns} turns); Claude Code was stopped`,
        {
          hint: {
            ...known,
            message:
              sessionId === null
                ? 'Claude Code had not started a session yet; retry with a larger timeout_s.'
                : `resume with session_id ${sessionId} (and a larger timeout_s) to continue where it stopped.`,
          },
        },
      ),
      attempts,
    );
  }
  if (reason !== undefined) {
    return failed(
      createFault(
        'transport_failure',
        at,
        `consult stopped: the server is ${reason === 'shutdown' ? 'shutting down' : 'draining'}`,
        {
          hint: {
            ...known,
            message: 'retry on a running server; resume with session_id if one is given.',
          },
        },
      ),
      attempts,
    );
  }
  if (result.kind === 'reply' && result.reply.status === 'fault') {
    return failed(result.reply.fault, attempts);
  }
  return failed(
    createFault(
      'downstream_failure',
      { ...at, stage: 'claude' },
      `Claude Code was killed by ${terminated?.signal ?? 'a signal'} from outside phone-opus`,
      {
        reason: 'cli_error',
        hint: { ...known, message: 'retry; resume with session_id if one is given.' },
      },
    ),
    attempts,
  );
}
