/**
 * The fault record (SPEC §6.1): plain data so it survives structuredClone across threads,
 * built only through the `faults` factories below.
 */
export type FaultClass =
  | 'protocol'
  | 'transport'
  | 'process'
  | 'timeout'
  | 'downstream'
  | 'resource'
  | 'replay'
  | 'rollout'
  | 'cancelled'
  | 'invariant';

export type FaultCode =
  | 'invalid_input'
  | 'not_initialized'
  | 'transport_failure'
  | 'process_failure'
  | 'downstream_failure'
  | 'timeout'
  | 'overloaded'
  | 'circuit_open'
  | 'outcome_unknown'
  | 'rollout_failure'
  | 'cancelled'
  | 'internal_failure';

export type Directive = 'abort_request' | 'retry' | 'restart_and_replay';
export type FaultStage = 'host' | 'worker' | 'claude' | 'transport' | 'protocol' | 'rollout';

/** Why a downstream (Claude Code) call failed. */
export type DownstreamReason =
  | 'auth'
  | 'rate_limit'
  | 'api_error'
  | 'max_turns'
  | 'budget'
  | 'cli_error'
  | 'invalid_output'
  | 'answer_too_large';

/** Advisory, machine-readable extras; never authorises a replay. */
export type FaultHint = {
  readonly message?: string;
  readonly retry_after_ms?: number;
  readonly session_id?: string;
  readonly num_turns?: number;
  readonly elapsed_ms?: number;
  /** Where an answer too large to return inline was saved. */
  readonly answer_file?: string;
  readonly answer_bytes?: number;
};

export type FaultRecord = {
  readonly fault: {
    readonly generation: number;
    readonly class: FaultClass;
    readonly code: FaultCode;
    readonly directive: Directive;
    readonly detail: string;
  };
  readonly stage: FaultStage;
  readonly operation: string;
  readonly jsonrpc_code: number;
  readonly retryable: boolean;
  readonly retried: boolean;
  readonly reason?: DownstreamReason;
  readonly hint?: FaultHint;
};

/** Where a fault arose: one argument instead of three positional ones. */
export type Site = {
  readonly generation: number;
  readonly stage: FaultStage;
  readonly operation: string;
};

const INTERNAL_ERROR = -32603;

/** What a code implies. `directive` follows `retryable`: `retry` or `abort_request`. */
type Shape = {
  readonly class: FaultClass;
  readonly retryable: boolean;
  readonly jsonrpc: number;
  /** Said to the caller whenever this code occurs (a more specific hint replaces it). */
  readonly hint?: string;
};

/** Every code's shape: a code without one is a compile error. */
const SHAPES: Record<FaultCode, Shape> = {
  invalid_input: { class: 'protocol', retryable: false, jsonrpc: -32602 },
  not_initialized: { class: 'protocol', retryable: false, jsonrpc: -32002 },
  transport_failure: { class: 'transport', retryable: true, jsonrpc: INTERNAL_ERROR },
  /** Retryable only when the cause passes by itself (descriptor or memory exhaustion). */
  process_failure: { class: 'process', retryable: false, jsonrpc: INTERNAL_ERROR },
  /** Retryable by reason (RETRYABLE_REASONS). */
  downstream_failure: { class: 'downstream', retryable: false, jsonrpc: INTERNAL_ERROR },
  timeout: { class: 'timeout', retryable: false, jsonrpc: INTERNAL_ERROR },
  overloaded: { class: 'resource', retryable: true, jsonrpc: INTERNAL_ERROR },
  circuit_open: { class: 'resource', retryable: true, jsonrpc: INTERNAL_ERROR },
  outcome_unknown: {
    class: 'replay',
    retryable: false,
    jsonrpc: INTERNAL_ERROR,
    hint: 'the consult may have run and cost money; it was not replayed automatically. Re-issue it deliberately if you still need the answer.',
  },
  rollout_failure: { class: 'rollout', retryable: false, jsonrpc: INTERNAL_ERROR },
  cancelled: { class: 'cancelled', retryable: false, jsonrpc: -32800 },
  internal_failure: { class: 'invariant', retryable: false, jsonrpc: INTERNAL_ERROR },
};

const RETRYABLE_REASONS: ReadonlySet<DownstreamReason> = new Set(['rate_limit', 'api_error']);

export type FaultOptions = {
  /** Why Claude Code failed (downstream_failure only). */
  readonly reason?: DownstreamReason;
  readonly hint?: FaultHint;
  /** Overrides the code's default (a process failure that passes by itself). */
  readonly retryable?: boolean;
  /** When to try again (overloaded, circuit_open): whole milliseconds, rounded up. */
  readonly retryAfterMs?: number;
};

/** The one fault constructor (SPEC §6.1). */
export function createFault(
  code: FaultCode,
  at: Site,
  detail: string,
  options: FaultOptions = {},
): FaultRecord {
  const shape = SHAPES[code];
  const retryable =
    options.retryable ??
    (options.reason !== undefined ? RETRYABLE_REASONS.has(options.reason) : shape.retryable);
  const hint = hintOf(shape, options);
  return {
    fault: {
      generation: at.generation,
      class: shape.class,
      code,
      directive: retryable ? 'retry' : 'abort_request',
      detail: oneLine(detail),
    },
    stage: at.stage,
    operation: at.operation,
    jsonrpc_code: shape.jsonrpc,
    retryable,
    retried: false,
    ...(options.reason === undefined ? {} : { reason: options.reason }),
    ...(hint === undefined ? {} : { hint }),
  };
}

function hintOf(shape: Shape, options: FaultOptions): FaultHint | undefined {
  if (options.retryAfterMs !== undefined) {
    const ms = Math.ceil(options.retryAfterMs);
    return { message: `retry after ${ms} ms`, ...options.hint, retry_after_ms: ms };
  }
  if (options.hint !== undefined) return options.hint;
  return shape.hint === undefined ? undefined : { message: shape.hint };
}

/** Details are one human line, bounded; never a stack trace. */
const MAX_DETAIL_CHARS = 4096;
function oneLine(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' ').trim();
  return flat.length > MAX_DETAIL_CHARS
    ? `${flat.slice(0, MAX_DETAIL_CHARS)}… [truncated ${flat.length - MAX_DETAIL_CHARS} chars]`
    : flat;
}

/** A fault that surfaced after a replay attempt. */
export const markRetried = (f: FaultRecord): FaultRecord => ({ ...f, retried: true });

/** Telemetry bucket (seed §5.5): operational faults versus request errors. */
export function isTransportFault(f: FaultRecord): boolean {
  switch (f.fault.class) {
    case 'transport':
    case 'process':
    case 'timeout':
    case 'resource':
    case 'replay':
    case 'rollout':
      return true;
    default:
      return false;
  }
}
