/**
 * The JSONL telemetry record of one completed tool call (SPEC §8). The prompt itself is
 * logged only when the operator opted in (`PHONE_OPUS_LOG_PROMPTS=1`); otherwise its length
 * and SHA-256 let calls be correlated without keeping what was asked.
 */
import { createHash } from 'node:crypto';
import { tokenCounts } from '../../shared/usage.ts';
import type { CallRecord } from './recorder.ts';

export type TelemetryLine = {
  readonly ts: string;
  readonly request_id: string | number;
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

export function telemetryLine(
  record: CallRecord,
  options: { readonly nowMs: number; readonly logPrompts: boolean },
): TelemetryLine {
  const fault = record.fault;
  const line: TelemetryLine = {
    ts: new Date(options.nowMs).toISOString(),
    request_id: record.request_id,
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
    prompt_chars: consult.prompt.length,
    prompt_sha256: createHash('sha256').update(consult.prompt).digest('hex'),
    ...(options.logPrompts ? { prompt: consult.prompt } : {}),
    cwd: consult.cwd,
    model: consult.model,
    cost_usd: consult.cost_usd,
    tokens: Object.keys(tokens).length === 0 ? null : tokens,
    session_id: consult.session_id,
  };
}
