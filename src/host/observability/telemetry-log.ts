/**
 * The JSONL telemetry records (SPEC §8, §11): one per completed tool call, and one per job end
 * that no call reported (a job its call had already left running, or one found interrupted).
 * A consult's facts — prompt length and SHA-256 (the text only with PHONE_OPUS_LOG_PROMPTS=1),
 * cwd, model, cost, tokens, session — are on exactly one record per job, so sums stay true.
 */

import { tokenCounts } from '../../shared/usage.ts';
import type { JobRecord } from '../jobs/job-record.ts';
import type { CallRecord } from './recorder.ts';

/** What the log says about a consult, taken from its job. */
export type ConsultFacts = {
  readonly prompt_chars: number;
  readonly prompt_sha256: string;
  readonly prompt?: string;
  readonly cwd: string;
  readonly model: string | null;
  readonly cost_usd: number | null;
  readonly usage: unknown;
  readonly session_id: string | null;
};

export function consultFactsOf(job: JobRecord): ConsultFacts {
  const value = job.outcome?.kind === 'ok' ? job.outcome.value : undefined;
  return {
    prompt_chars: job.prompt_chars,
    prompt_sha256: job.prompt_sha256,
    ...(job.prompt === undefined ? {} : { prompt: job.prompt }),
    cwd: value?.cwd ?? job.cwd,
    model: value?.model ?? null,
    cost_usd: value?.total_cost_usd ?? null,
    usage: value?.usage ?? null,
    session_id: job.session_id,
  };
}

export type TelemetryLine = {
  readonly ts: string;
  /** null on a job's own record (no call carried its end). */
  readonly request_id: string | number | null;
  readonly job_id?: string;
  readonly operation: string;
  readonly tool: string;
  readonly outcome: CallRecord['outcome'];
  readonly latency_ms: number;
  readonly generation: number;
  readonly attempts: number;
  readonly error: { readonly code: number; readonly kind: string; readonly message: string } | null;
  readonly prompt_chars?: number;
  readonly prompt_sha256?: string;
  readonly prompt?: string;
  readonly cwd?: string | null;
  readonly model?: string | null;
  readonly cost_usd?: number | null;
  readonly tokens?: Record<string, number> | null;
  readonly session_id?: string | null;
};

export function telemetryLine(record: CallRecord, nowMs: number): TelemetryLine {
  const fault = record.fault;
  const line: TelemetryLine = {
    ts: new Date(nowMs).toISOString(),
    request_id: record.request_id,
    ...(record.job_id === undefined ? {} : { job_id: record.job_id }),
    operation: record.operation,
    tool: record.tool,
    outcome: record.outcome,
    latency_ms: record.latency_ms,
    generation: record.generation,
    attempts: record.attempts,
    error:
      fault === undefined
        ? null
        : { code: fault.jsonrpc_code, kind: fault.fault.code, message: fault.fault.detail },
  };
  const consult = record.consult;
  if (consult === undefined) return line;
  const tokens = tokenCounts(consult.usage);
  return {
    ...line,
    prompt_chars: consult.prompt_chars,
    prompt_sha256: consult.prompt_sha256,
    ...(consult.prompt === undefined ? {} : { prompt: consult.prompt }),
    cwd: consult.cwd,
    model: consult.model,
    cost_usd: consult.cost_usd,
    tokens: Object.keys(tokens).length === 0 ? null : tokens,
    session_id: consult.session_id,
  };
}
