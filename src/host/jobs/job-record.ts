/**
 * A consult's job as it is kept on disk (SPEC §11): `<state>/jobs/<job_id>.json`, readable by
 * every phone-opus server that shares the state dir. Parsed with valibot on the way in, since
 * another server (or another version) may have written it.
 */
import * as v from 'valibot';
import type { FaultRecord } from '../../shared/fault.ts';
import type { ConsultSuccess } from '../../shared/wire.ts';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';
const ACTIVE: ReadonlySet<JobStatus> = new Set(['queued', 'running']);
export const isActive = (status: JobStatus): boolean => ACTIVE.has(status);

/** How the consult ended, exactly as `consult` returns it (rendered again on each read). */
export type JobOutcome =
  | {
      readonly kind: 'ok';
      readonly value: ConsultSuccess;
      readonly generation: number;
      readonly attempts: number;
    }
  | { readonly kind: 'fault'; readonly fault: FaultRecord; readonly attempts: number };

export type JobProgress = {
  readonly turns: number;
  readonly last_tool: string | null;
  readonly elapsed_ms: number;
};

export type JobRecord = {
  readonly version: 1;
  readonly job_id: string;
  readonly status: JobStatus;
  readonly created_at: string;
  readonly updated_at: string;
  readonly ended_at: string | null;
  /** The server that runs it: pid and process start time. */
  readonly owner: { readonly pid: number; readonly start: string };
  readonly cwd: string;
  readonly session_id: string | null;
  readonly progress: JobProgress;
  readonly request_key: string | null;
  /** Of the consult's arguments: a retry with the same key must ask the same thing. */
  readonly fingerprint: string;
  readonly prompt_chars: number;
  readonly prompt_sha256: string;
  /** Only with PHONE_OPUS_LOG_PROMPTS=1. */
  readonly prompt?: string;
  readonly max_turns: number | null;
  /** How the starting call asked to see the result (an MCP task's result is shown that way). */
  readonly render: 'porcelain' | 'json';
  readonly detail: 'concise' | 'full';
  /** How long a finished job is kept (an MCP task's TTL, else the server's retention). */
  readonly ttl_ms: number;
  readonly outcome: JobOutcome | null;
};

const text = v.string();
const count = v.pipe(v.number(), v.finite());
const nullableText = v.nullable(v.string());

const JobRecordSchema = v.object({
  version: v.literal(1),
  job_id: text,
  status: v.picklist(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted']),
  created_at: text,
  updated_at: text,
  ended_at: nullableText,
  owner: v.object({ pid: count, start: text }),
  cwd: text,
  session_id: nullableText,
  progress: v.object({ turns: count, last_tool: nullableText, elapsed_ms: count }),
  request_key: nullableText,
  fingerprint: text,
  prompt_chars: count,
  prompt_sha256: text,
  prompt: v.optional(text),
  max_turns: v.nullable(count),
  render: v.picklist(['porcelain', 'json']),
  detail: v.picklist(['concise', 'full']),
  ttl_ms: count,
  // Written by phone-opus itself: its shape is the consult's own result or fault record.
  outcome: v.nullable(
    v.union([
      v.looseObject({
        kind: v.literal('ok'),
        value: v.looseObject({}),
        generation: count,
        attempts: count,
      }),
      v.looseObject({ kind: v.literal('fault'), fault: v.looseObject({}), attempts: count }),
    ]),
  ),
});

/** A job file's text as a record, or undefined if it is not one. */
export function parseJobRecord(text: string): JobRecord | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = v.safeParse(JobRecordSchema, json);
  return parsed.success ? (parsed.output as unknown as JobRecord) : undefined;
}

/** The terminal status an outcome gives its job. */
export function statusOf(outcome: JobOutcome): JobStatus {
  if (outcome.kind === 'ok') return 'succeeded';
  return outcome.fault.fault.code === 'cancelled' ? 'cancelled' : 'failed';
}

/** MCP task statuses (2025-11-25 and the 2026 extension alike). */
export type TaskStatus = 'working' | 'completed' | 'failed' | 'cancelled';

/**
 * A consult that ended with a fault still produced a tool result (`isError: true`), and so did
 * an interrupted one (its fault says what is known): for MCP tasks both are `completed`;
 * `failed` is for JSON-RPC errors only.
 */
export function taskStatusOf(status: JobStatus): TaskStatus {
  if (status === 'queued' || status === 'running') return 'working';
  return status === 'cancelled' ? 'cancelled' : 'completed';
}
