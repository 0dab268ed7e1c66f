/**
 * What a call says about a job (SPEC §11): its terminal result rendered exactly as `consult`
 * renders it, or a pending result telling the model to come back with `consult_result`, or
 * what `consult_cancel` did.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { RESULT_WAIT_DEFAULT_S } from '../../shared/tool-schemas.ts';
import type { JobRecord } from '../jobs/job-record.ts';
import {
  faultResult,
  formatDuration,
  keyValueLines,
  type Presentation,
  toCallToolResult,
} from '../mcp/render.ts';
import { consultOutput } from './consult-output.ts';

/** How soon a client polling with tasks/get should look again. */
export const POLL_AFTER_MS = 5000;

/** A terminal job: the consult's own result or fault. */
export function terminalResult(job: JobRecord, presentation: Presentation): CallToolResult {
  const outcome = job.outcome;
  if (outcome === null) throw new Error(`job ${job.job_id} has no outcome`);
  if (outcome.kind === 'fault') return faultResult(outcome.fault);
  const output = consultOutput(outcome.value, {
    cwd: outcome.value.cwd,
    promptChars: job.prompt_chars,
    maxTurns: job.max_turns,
    generation: outcome.generation,
    attempts: outcome.attempts,
  });
  return toCallToolResult(output, presentation);
}

/** A job still queued or running: where it stands, and what to call next. */
export function pendingResult(
  job: JobRecord,
  elapsedMs: number,
  presentation: Presentation,
): CallToolResult {
  const concise = {
    status: job.status,
    job_id: job.job_id,
    ...(job.session_id === null ? {} : { session_id: job.session_id }),
    elapsed_ms: elapsedMs,
    progress: { turns: job.progress.turns, last_tool: job.progress.last_tool },
    poll_after_ms: POLL_AFTER_MS,
  };
  const full = { ...concise, cwd: job.cwd, created_at: job.created_at, updated_at: job.updated_at };
  const head = `consult ${job.status} job=${job.job_id} elapsed=${formatDuration(elapsedMs)} turns=${job.progress.turns}`;
  const next = `next: call consult_result with {"job_id": "${job.job_id}"} to wait for the answer (up to ${RESULT_WAIT_DEFAULT_S} s a call; it keeps running meanwhile, and consult_cancel stops it)`;
  const lines = [
    head,
    ...(job.progress.last_tool === null ? [] : [`last: ${job.progress.last_tool}`]),
    ...(job.session_id === null ? [] : [`session: ${job.session_id}`]),
    next,
  ];
  return toCallToolResult(
    {
      concise,
      full,
      porcelainConcise: () => lines.join('\n'),
      porcelainFull: () =>
        [
          head,
          ...keyValueLines({ cwd: job.cwd, created_at: job.created_at }),
          ...lines.slice(1),
        ].join('\n'),
    },
    presentation,
  );
}

/** What consult_cancel did: stopped it, or found it already over. */
export function cancelResult(
  job: JobRecord,
  wasActive: boolean,
  presentation: Presentation,
): CallToolResult {
  const concise = {
    job_id: job.job_id,
    status: job.status,
    cancelled: job.status === 'cancelled' && wasActive,
  };
  const said = wasActive
    ? job.status === 'cancelled'
      ? 'cancelled; its Claude Code process was stopped'
      : `it ended as ${job.status} before the cancel took effect`
    : `it had already ended (${job.status}); left as it was`;
  const line = `consult_cancel job=${job.job_id} status=${job.status}: ${said}`;
  return toCallToolResult(
    { concise, full: concise, porcelainConcise: () => line, porcelainFull: () => line },
    presentation,
  );
}
