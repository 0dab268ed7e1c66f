/**
 * How a job's record comes to be and how it changes without its consult: pure functions of the
 * record and the moment, so that every server on a state dir applies them alike.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createFault, type Site } from '../../shared/fault.ts';
import type { ConsultRequest } from '../../shared/wire.ts';
import type { ConsultOutcome } from '../consult/outcome-faults.ts';
import { isActive, type JobOutcome, type JobRecord } from './job-record.ts';

/** What a job is started from. */
export type JobSpec = {
  readonly request: ConsultRequest;
  readonly timeoutMs: number;
  readonly key: string | null;
  /** Of the consult's arguments: a key retried with other arguments is refused. */
  readonly fingerprint: string;
  readonly render: JobRecord['render'];
  readonly detail: JobRecord['detail'];
  /** An MCP task's TTL; otherwise the server's retention. */
  readonly ttlMs?: number;
};

export type JobContext = {
  readonly owner: JobRecord['owner'];
  readonly nowMs: number;
  readonly logPrompts: boolean;
  readonly retentionMs: number;
};

/** A new job, queued: no prompt text unless prompts are logged. */
export function queuedRecord(spec: JobSpec, context: JobContext): JobRecord {
  const { request } = spec;
  const now = new Date(context.nowMs).toISOString();
  return {
    version: 1,
    job_id: randomUUID(),
    status: 'queued',
    created_at: now,
    updated_at: now,
    ended_at: null,
    owner: context.owner,
    cwd: request.cwd,
    session_id: request.resumeSessionId ?? null,
    progress: { turns: 0, last_tool: null, elapsed_ms: 0 },
    request_key: spec.key,
    fingerprint: spec.fingerprint,
    prompt_chars: request.prompt.length,
    prompt_sha256: createHash('sha256').update(request.prompt).digest('hex'),
    ...(context.logPrompts ? { prompt: request.prompt } : {}),
    max_turns: request.maxTurns ?? null,
    render: spec.render,
    detail: spec.detail,
    ttl_ms: spec.ttlMs ?? context.retentionMs,
    outcome: null,
  };
}

/** Past its retention (or its task's TTL) a finished job is gone. */
export const isExpired = (record: JobRecord, nowMs: number): boolean =>
  !isActive(record.status) &&
  nowMs - Date.parse(record.ended_at ?? record.updated_at) > record.ttl_ms;

/** A consult's outcome as a job keeps it: a cancellation is a fault like any other end. */
export function jobOutcome(outcome: ConsultOutcome, at: Site): JobOutcome {
  if (outcome.kind !== 'cancelled') return outcome;
  const fault = createFault('cancelled', at, 'the consult was cancelled');
  return { kind: 'fault', fault, attempts: outcome.attempts };
}

/** A job whose server is gone: never re-run, its session named so it can be resumed. */
export function interruptedRecord(record: JobRecord, at: Site, nowMs: number): JobRecord {
  const sessionId = record.session_id;
  const fault = createFault(
    'outcome_unknown',
    at,
    `the server that ran this consult (pid ${record.owner.pid}) is gone; the consult may have run and cost money, and it was not re-run`,
    {
      hint: {
        ...(sessionId === null ? {} : { session_id: sessionId }),
        num_turns: record.progress.turns,
        message:
          sessionId === null
            ? 're-issue the consult if you still need the answer.'
            : `resume it with consult {session_id: "${sessionId}"} to continue where it stopped.`,
      },
    },
  );
  const now = new Date(nowMs).toISOString();
  return {
    ...record,
    status: 'interrupted',
    outcome: { kind: 'fault', fault, attempts: 1 },
    ended_at: now,
    updated_at: now,
  };
}
