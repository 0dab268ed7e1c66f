/**
 * The Claude Code CLI's `--output-format stream-json` output, parsed with valibot: each line
 * is an event, the last a `result` envelope (claude-cli-notes.md). Every field is optional and
 * tolerant — a field of an unexpected type reads as absent — so that a CLI that adds or
 * changes fields degrades to less detail, never to a failed consult.
 */
import * as v from 'valibot';

const tolerant = <T extends v.GenericSchema>(schema: T) =>
  v.fallback(v.optional(schema), undefined);
const count = v.pipe(v.number(), v.finite());
const record = v.record(v.string(), v.unknown());

/** An API `usage` object: token counts among other fields. */
export const UsageSchema = record;

/** One model's line of `modelUsage` (keyed by model name). */
export const ModelUsageEntrySchema = v.looseObject({
  outputTokens: tolerant(count),
  costUSD: tolerant(count),
});
export const ModelUsageSchema = v.record(v.string(), v.fallback(ModelUsageEntrySchema, {}));

export const ResultEnvelopeSchema = v.looseObject({
  type: v.literal('result'),
  subtype: tolerant(v.string()),
  is_error: tolerant(v.boolean()),
  result: tolerant(v.string()),
  session_id: tolerant(v.string()),
  num_turns: tolerant(count),
  duration_ms: tolerant(count),
  duration_api_ms: tolerant(count),
  total_cost_usd: tolerant(count),
  stop_reason: tolerant(v.string()),
  api_error_status: tolerant(count),
  usage: tolerant(UsageSchema),
  modelUsage: tolerant(record),
  permission_denials: tolerant(v.array(v.unknown())),
  errors: tolerant(v.array(v.unknown())),
});
export type ResultEnvelope = v.InferOutput<typeof ResultEnvelopeSchema>;

const MessageSchema = v.looseObject({
  id: tolerant(v.string()),
  content: tolerant(v.array(v.unknown())),
});

/** Any event line: what progress needs from it. */
export const StreamEventSchema = v.looseObject({
  type: tolerant(v.string()),
  subtype: tolerant(v.string()),
  session_id: tolerant(v.string()),
  model: tolerant(v.string()),
  message: tolerant(MessageSchema),
});
export type StreamEvent = v.InferOutput<typeof StreamEventSchema>;

/** A `tool_use` content block of an assistant message. */
export const ToolUseSchema = v.looseObject({
  type: v.literal('tool_use'),
  name: tolerant(v.string()),
  input: tolerant(record),
});
export type ToolUse = v.InferOutput<typeof ToolUseSchema>;

/** Parse `value` as `schema`, or undefined. */
export function parseAs<T extends v.GenericSchema>(
  schema: T,
  value: unknown,
): v.InferOutput<T> | undefined {
  const parsed = v.safeParse(schema, value);
  return parsed.success ? parsed.output : undefined;
}
