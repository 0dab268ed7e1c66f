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

type Shape = {
  class: FaultClass;
  code: FaultCode;
  directive: Directive;
  retryable: boolean;
  jsonrpc: number;
};

const make = (
  at: Site,
  shape: Shape,
  detail: string,
  extra: { reason?: DownstreamReason; hint?: FaultHint } = {},
): FaultRecord => ({
  fault: {
    generation: at.generation,
    class: shape.class,
    code: shape.code,
    directive: shape.directive,
    detail: oneLine(detail),
  },
  stage: at.stage,
  operation: at.operation,
  jsonrpc_code: shape.jsonrpc,
  retryable: shape.retryable,
  retried: false,
  ...(extra.reason === undefined ? {} : { reason: extra.reason }),
  ...(extra.hint === undefined ? {} : { hint: extra.hint }),
});

/** Details are one human line, bounded; never a stack trace. */
const MAX_DETAIL_CHARS = 4096;
function oneLine(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' ').trim();
  return flat.length > MAX_DETAIL_CHARS
    ? `${flat.slice(0, MAX_DETAIL_CHARS)}… [truncated ${flat.length - MAX_DETAIL_CHARS} chars]`
    : flat;
}

const RETRYABLE_REASONS: ReadonlySet<DownstreamReason> = new Set(['rate_limit', 'api_error']);

/** One factory per fault code (SPEC §6.1). */
export const faults = {
  invalidInput: (at: Site, detail: string): FaultRecord =>
    make(
      at,
      {
        class: 'protocol',
        code: 'invalid_input',
        directive: 'abort_request',
        retryable: false,
        jsonrpc: -32602,
      },
      detail,
    ),
  notInitialized: (at: Site, detail: string): FaultRecord =>
    make(
      at,
      {
        class: 'protocol',
        code: 'not_initialized',
        directive: 'abort_request',
        retryable: false,
        jsonrpc: -32002,
      },
      detail,
    ),
  transportFailure: (at: Site, detail: string, hint?: FaultHint): FaultRecord =>
    make(
      at,
      {
        class: 'transport',
        code: 'transport_failure',
        directive: 'retry',
        retryable: true,
        jsonrpc: INTERNAL_ERROR,
      },
      detail,
      hint ? { hint } : {},
    ),
  /**
   * The CLI could not be started or run. Retryable only when the cause passes by itself
   * (descriptor or memory exhaustion), not when the install or the directory must be fixed.
   */
  processFailure: (at: Site, detail: string, hint?: FaultHint, retryable = false): FaultRecord =>
    make(
      at,
      {
        class: 'process',
        code: 'process_failure',
        directive: retryable ? 'retry' : 'abort_request',
        retryable,
        jsonrpc: INTERNAL_ERROR,
      },
      detail,
      hint ? { hint } : {},
    ),
  downstreamFailure: (
    at: Site,
    reason: DownstreamReason,
    detail: string,
    hint?: FaultHint,
  ): FaultRecord => {
    const retryable = RETRYABLE_REASONS.has(reason);
    return make(
      at,
      {
        class: 'downstream',
        code: 'downstream_failure',
        directive: retryable ? 'retry' : 'abort_request',
        retryable,
        jsonrpc: INTERNAL_ERROR,
      },
      detail,
      hint ? { reason, hint } : { reason },
    );
  },
  timeout: (at: Site, detail: string, hint: FaultHint): FaultRecord =>
    make(
      at,
      {
        class: 'timeout',
        code: 'timeout',
        directive: 'abort_request',
        retryable: false,
        jsonrpc: INTERNAL_ERROR,
      },
      detail,
      { hint },
    ),
  overloaded: (at: Site, detail: string, retryAfterMs: number): FaultRecord =>
    make(
      at,
      {
        class: 'resource',
        code: 'overloaded',
        directive: 'retry',
        retryable: true,
        jsonrpc: INTERNAL_ERROR,
      },
      detail,
      retryHint(retryAfterMs),
    ),
  circuitOpen: (at: Site, detail: string, retryAfterMs: number): FaultRecord =>
    make(
      at,
      {
        class: 'resource',
        code: 'circuit_open',
        directive: 'retry',
        retryable: true,
        jsonrpc: INTERNAL_ERROR,
      },
      detail,
      retryHint(retryAfterMs),
    ),
  outcomeUnknown: (at: Site, detail: string): FaultRecord =>
    make(
      at,
      {
        class: 'replay',
        code: 'outcome_unknown',
        directive: 'abort_request',
        retryable: false,
        jsonrpc: INTERNAL_ERROR,
      },
      detail,
      {
        hint: {
          message:
            'the consult may have run and cost money; it was not replayed automatically. Re-issue it deliberately if you still need the answer.',
        },
      },
    ),
  rolloutFailure: (at: Site, detail: string): FaultRecord =>
    make(
      at,
      {
        class: 'rollout',
        code: 'rollout_failure',
        directive: 'abort_request',
        retryable: false,
        jsonrpc: INTERNAL_ERROR,
      },
      detail,
    ),
  cancelled: (at: Site, detail: string): FaultRecord =>
    make(
      at,
      {
        class: 'cancelled',
        code: 'cancelled',
        directive: 'abort_request',
        retryable: false,
        jsonrpc: -32800,
      },
      detail,
    ),
  internalFailure: (at: Site, detail: string): FaultRecord =>
    make(
      at,
      {
        class: 'invariant',
        code: 'internal_failure',
        directive: 'abort_request',
        retryable: false,
        jsonrpc: INTERNAL_ERROR,
      },
      detail,
    ),
} as const;

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

/** Clients wait whole milliseconds. */
function retryHint(retryAfterMs: number): { hint: FaultHint } {
  const ms = Math.ceil(retryAfterMs);
  return { hint: { message: `retry after ${ms} ms`, retry_after_ms: ms } };
}
