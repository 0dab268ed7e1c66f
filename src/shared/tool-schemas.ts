/**
 * The tools' input schemas (valibot): every argument checked at the host, unknown keys refused
 * naming the key (SPEC §5, §10). The published JSON Schemas are generated from these.
 */
import * as v from 'valibot';
import type { Config } from './config.ts';

const MAX_PROMPT_BYTES = 1024 * 1024;
/** Far beyond any real consult, and a number every CLI parses exactly. */
const MAX_TURNS = 10_000;
const MAX_REQUEST_KEY_CHARS = 200;
/** consult_result's long-poll: its default and its most, under common client limits. */
export const RESULT_WAIT_DEFAULT_S = 50;
const RESULT_WAIT_MAX_S = 240;

const RENDERS = ['porcelain', 'json'] as const;
const DETAILS = ['concise', 'full'] as const;
export type Render = (typeof RENDERS)[number];
export type Detail = (typeof DETAILS)[number];

const presentationEntries = {
  render: v.optional(
    v.pipe(
      v.picklist(RENDERS, 'must be "porcelain" or "json"'),
      v.description('Output rendering. Defaults to porcelain for model-friendly summaries.'),
    ),
  ),
  detail: v.optional(
    v.pipe(
      v.picklist(DETAILS, 'must be "concise" or "full"'),
      v.description(
        'Output detail level. Concise is the default model-facing summary; full retains more structure.',
      ),
    ),
  ),
};

const unknownKey = (allowed: readonly string[]) => () =>
  `unknown argument (allowed: ${allowed.join(', ')})`;

/** An object of exactly these arguments; an unknown one is refused, naming the allowed ones. */
const strict = <const E extends v.ObjectEntries>(entries: E) =>
  v.strictObject(entries, unknownKey(Object.keys(entries)));

const noNul = (s: string) => !s.includes('\0');
// A lone surrogate cannot be encoded as UTF-8 (e.g. a path that was not UTF-8 to begin with).
const wellFormed = (s: string) =>
  !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

const text = (what: string) =>
  [
    v.string('must be a string'),
    v.check(noNul, `${what} must not contain NUL characters`),
    v.check(wellFormed, `${what} must be valid Unicode (UTF-8)`),
  ] as const;

export function consultSchema(config: Config) {
  return strict({
    prompt: v.pipe(
      ...text('prompt'),
      v.check((s) => s.trim().length > 0, 'must not be blank'),
      v.maxBytes(MAX_PROMPT_BYTES, `must be at most ${MAX_PROMPT_BYTES} bytes of UTF-8 (1 MiB)`),
      v.description(
        'The question or task for Claude Code. It is sent on stdin, never as a command-line argument.',
      ),
    ),
    cwd: v.optional(
      v.pipe(
        ...text('cwd'),
        v.minLength(1, 'must not be empty'),
        v.description(
          'Directory Claude Code works in (and may read). Relative paths resolve against the server directory. Defaults to the server directory, or to the session directory when resuming.',
        ),
      ),
    ),
    max_turns: v.optional(
      v.pipe(
        v.number('must be an integer'),
        v.integer('must be an integer'),
        v.minValue(1, 'must be at least 1'),
        v.maxValue(MAX_TURNS, `must be at most ${MAX_TURNS}`),
        v.description('Stop after this many agent turns.'),
      ),
    ),
    model: v.optional(
      v.pipe(
        ...text('model'),
        v.minLength(1, 'must not be empty'),
        v.maxLength(200, 'must be at most 200 characters'),
        v.regex(
          /^[^\s-][^\s]*$/,
          'must be a model alias or name without spaces, not starting with "-"',
        ),
        v.description(
          `Model alias (opus, sonnet, haiku) or full model name.${config.defaultModel === undefined ? '' : ` Defaults to ${config.defaultModel}.`}`,
        ),
      ),
    ),
    max_budget_usd: v.optional(
      v.pipe(
        v.number('must be a number'),
        v.finite('must be a finite number'),
        v.gtValue(0, 'must be greater than 0'),
        v.description('Stop when this consult has spent this many US dollars.'),
      ),
    ),
    session_id: v.optional(
      v.pipe(
        v.string('must be a string'),
        v.uuid('must be a session id (a UUID) returned by an earlier consult'),
        v.description(
          'Continue an earlier consult: its session_id. The consult runs in that session’s directory.',
        ),
      ),
    ),
    timeout_s: v.optional(
      v.pipe(
        v.number('must be an integer'),
        v.integer('must be an integer'),
        v.minValue(1, 'must be at least 1'),
        v.maxValue(
          config.consultTimeoutS,
          `must be at most ${config.consultTimeoutS} (PHONE_OPUS_CONSULT_TIMEOUT_S)`,
        ),
        v.description(
          `Wall-time limit in seconds (default and maximum ${config.consultTimeoutS}). On expiry the consult is stopped and its session_id returned so it can be resumed.`,
        ),
      ),
    ),
    wait_s: waitSeconds(
      86_400,
      `How long to wait for the answer before returning a pending result with a job_id (the consult keeps running; fetch it with consult_result).${config.defaultWaitS === undefined ? ' Defaults to waiting until the end.' : ` Defaults to ${config.defaultWaitS}.`}`,
    ),
    request_key: v.optional(
      v.pipe(
        ...text('request_key'),
        v.minLength(1, 'must not be empty'),
        v.maxLength(MAX_REQUEST_KEY_CHARS, `must be at most ${MAX_REQUEST_KEY_CHARS} characters`),
        v.description(
          'Idempotency key: a consult retried with the same key and the same arguments joins the first one instead of running (and paying) again.',
        ),
      ),
    ),
    ...presentationEntries,
  });
}

const waitSeconds = (max: number, description: string) =>
  v.optional(
    v.pipe(
      v.number('must be an integer'),
      v.integer('must be an integer'),
      v.minValue(0, 'must be at least 0'),
      v.maxValue(max, `must be at most ${max}`),
      v.description(description),
    ),
  );

const jobId = v.pipe(
  v.string('must be a string'),
  v.uuid('must be a job_id (a UUID) returned by consult'),
  v.description('The job_id a pending consult returned.'),
);

/** consult_result: the long-poll for a job's answer. */
export const resultSchema = strict({
  job_id: jobId,
  wait_s: waitSeconds(
    RESULT_WAIT_MAX_S,
    `How long to wait for the answer (default ${RESULT_WAIT_DEFAULT_S}, at most ${RESULT_WAIT_MAX_S}); if it is not ready by then, the job is still pending: call again.`,
  ),
  ...presentationEntries,
});

/** consult_cancel. */
export const jobSchema = strict({ job_id: jobId, ...presentationEntries });

export const snapshotSchema = strict(presentationEntries);

export type ConsultArgs = v.InferOutput<ReturnType<typeof consultSchema>>;
export type SnapshotArgs = v.InferOutput<typeof snapshotSchema>;

export type ResultArgs = v.InferOutput<typeof resultSchema>;
export type JobArgs = v.InferOutput<typeof jobSchema>;
