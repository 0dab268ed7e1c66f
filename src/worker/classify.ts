/**
 * Turn a finished CLI run into a result or a fault (SPEC §5.1): success only if the process
 * exited 0, the envelope is a `result`, `is_error` is false and `subtype` is `success`.
 */
import { constants } from 'node:os';
import {
  ModelUsageEntrySchema,
  ModelUsageSchema,
  parseAs,
  type ResultEnvelope,
} from '../shared/cli-output.ts';
import {
  createFault,
  type DownstreamReason,
  type FaultRecord,
  type Site,
} from '../shared/fault.ts';
import { roundUsd } from '../shared/money.ts';
import type { ExitReport } from '../shared/process-tree.ts';
import type { ConsultSuccess } from '../shared/wire.ts';
import type { StreamSummary } from './stream-json.ts';

const QUOTE_LIMIT = 2048;

export type RunFacts = {
  readonly exit: ExitReport;
  readonly stream: StreamSummary;
  readonly stderr: string;
  readonly build: string;
  /** Where the CLI ran. */
  readonly cwd: string;
};

export function classifyRun(
  at: Site,
  facts: RunFacts,
): { ok: true; value: ConsultSuccess } | { ok: false; fault: FaultRecord } {
  const { exit, stream, stderr } = facts;
  const envelope = stream.result;
  if (envelope === undefined) {
    if (exit.exitCode === 0) {
      const said =
        stream.junk !== ''
          ? `; output began: ${quote(stream.junk)}`
          : stream.events > 0
            ? ` after ${stream.events} events (the last of type ${stream.lastEventType ?? 'unknown'})`
            : '; it printed nothing';
      return {
        ok: false,
        fault: createFault(
          'downstream_failure',
          at,
          `Claude Code exited 0 without a result envelope${said}`,
          {
            reason: 'invalid_output',
            hint: {
              ...(stream.sessionId === null ? {} : { session_id: stream.sessionId }),
              num_turns: stream.turns,
              message: HINTS.invalid_output,
            },
          },
        ),
      };
    }
    return {
      ok: false,
      fault: createFault('downstream_failure', at, cliMessage(exit, stderr, stream.junk), {
        reason: 'cli_error',
      }),
    };
  }
  const isError = envelope.is_error !== false;
  const subtype = envelope.subtype;
  if (exit.exitCode === 0 && !isError && subtype === 'success') {
    return { ok: true, value: success(envelope, stream, facts) };
  }
  const reason = downstreamReason(envelope, stderr);
  const sessionId = envelope.session_id ?? stream.sessionId;
  return {
    ok: false,
    fault: createFault('downstream_failure', at, failureDetail(reason, envelope, exit, stderr), {
      reason,
      hint: {
        ...(sessionId === null ? {} : { session_id: sessionId }),
        num_turns: envelope.num_turns ?? stream.turns,
        message: HINTS[reason],
      },
    }),
  };
}

const HINTS: Record<DownstreamReason, string> = {
  auth: 'Claude Code is not authenticated: run `claude` once and log in (or set ANTHROPIC_API_KEY), then retry.',
  rate_limit: 'The Anthropic API is rate-limited or overloaded; retry later.',
  api_error: 'The Anthropic API returned an error; retry later.',
  max_turns:
    'The consult reached max_turns; resume it with session_id and a higher max_turns, or narrow the prompt.',
  budget: 'The consult reached max_budget_usd; resume it with session_id and a higher budget.',
  cli_error: 'Claude Code failed; run `phone-opus doctor` to check the installation.',
  invalid_output:
    'Claude Code printed something phone-opus cannot read; check the CLI version with `phone-opus doctor`.',
  answer_too_large: 'The answer is saved to a file; read it from there.',
};

function downstreamReason(envelope: ResultEnvelope, stderr: string): DownstreamReason {
  const subtype = envelope.subtype ?? '';
  if (subtype === 'error_max_turns') return 'max_turns';
  if (subtype.includes('budget')) return 'budget';
  const status = envelope.api_error_status;
  const text = `${envelope.result ?? ''} ${stderr}`;
  if (
    status === 401 ||
    status === 403 ||
    /not logged in|please run \/login|invalid api key|failed to authenticate/i.test(text)
  ) {
    return 'auth';
  }
  if (status === 429 || status === 529) return 'rate_limit';
  if (status !== undefined) return 'api_error';
  if (/budget/i.test(text)) return 'budget';
  return 'cli_error';
}

function failureDetail(
  reason: DownstreamReason,
  envelope: ResultEnvelope,
  exit: ExitReport,
  stderr: string,
): string {
  const turns = envelope.num_turns;
  const result = envelope.result?.trim();
  const errors = (envelope.errors ?? [])
    .filter((e): e is string => typeof e === 'string')
    .join('; ');
  const said =
    result !== undefined && result !== '' ? result : errors !== '' ? errors : stderr.trim();
  const prefix: Record<DownstreamReason, string> = {
    auth: 'Claude Code could not authenticate',
    rate_limit: 'the Anthropic API is rate-limited or overloaded',
    api_error: `the Anthropic API failed${envelope.api_error_status === undefined ? '' : ` (HTTP ${envelope.api_error_status})`}`,
    max_turns: `Claude Code stopped at the turn limit${turns === undefined ? '' : ` after ${turns} turns`}`,
    budget: 'Claude Code stopped at the budget limit',
    cli_error: `Claude Code failed (${describeExit(exit)})`,
    invalid_output: 'Claude Code printed an unreadable result',
    answer_too_large: 'Claude Code answered beyond the size limit',
  };
  return said === '' ? prefix[reason] : `${prefix[reason]}: ${quote(said)}`;
}

function cliMessage(exit: ExitReport, stderr: string, junk: string): string {
  const said = stderr.trim() !== '' ? stderr.trim() : junk.trim();
  return said === ''
    ? `Claude Code ${describeExit(exit)} without a result`
    : `Claude Code ${describeExit(exit)}: ${quote(said)}`;
}

function describeExit(exit: ExitReport): string {
  if (exit.signal !== null) return `was killed by ${exit.signal}`;
  // The CLI catches signals and exits with 128 + the signal number.
  const code = exit.exitCode ?? 0;
  const signal = code > 128 ? SIGNAL_NAMES.get(code - 128) : undefined;
  return `exited with status ${exit.exitCode}${signal === undefined ? '' : ` (${signal})`}`;
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

function success(envelope: ResultEnvelope, stream: StreamSummary, facts: RunFacts): ConsultSuccess {
  const modelUsage = envelope.modelUsage;
  return {
    response: envelope.result ?? '',
    cwd: facts.cwd,
    session_id: envelope.session_id ?? stream.sessionId,
    model: answeringModel(modelUsage) ?? stream.model,
    num_turns: envelope.num_turns ?? stream.turns,
    duration_ms: envelope.duration_ms ?? 0,
    duration_api_ms: envelope.duration_api_ms ?? null,
    stop_reason: envelope.stop_reason ?? null,
    total_cost_usd:
      envelope.total_cost_usd === undefined ? null : roundUsd(envelope.total_cost_usd),
    usage: envelope.usage ?? null,
    model_usage: modelUsage === undefined ? null : withRoundedCosts(modelUsage),
    permission_denials: envelope.permission_denials ?? [],
    build: facts.build,
  };
}

/** The model that did the work: the one with the most output tokens (not the first key). */
export function answeringModel(modelUsage: unknown): string | null {
  let best: string | null = null;
  let bestTokens = -1;
  for (const [name, usage] of Object.entries(parseAs(ModelUsageSchema, modelUsage) ?? {})) {
    const tokens = usage.outputTokens ?? 0;
    if (tokens > bestTokens) {
      best = name.replace(/\[[^\]]*\]$/, ''); // `claude-opus-4-8[1m]` names the context window too
      bestTokens = tokens;
    }
  }
  return best;
}

/** The CLI's per-model usage, its `costUSD` figures rounded like every other cost. */
function withRoundedCosts(modelUsage: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(modelUsage).map(([model, usage]) => {
      const cost = parseAs(ModelUsageEntrySchema, usage)?.costUSD;
      return [
        model,
        cost === undefined ? usage : { ...(usage as object), costUSD: roundUsd(cost) },
      ];
    }),
  );
}

function quote(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > QUOTE_LIMIT
    ? `${trimmed.slice(0, QUOTE_LIMIT)}… [truncated ${trimmed.length - QUOTE_LIMIT} chars]`
    : trimmed;
}
