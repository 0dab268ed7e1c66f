/**
 * `tools/call`: look the tool up in the one tool table, validate its arguments at the host,
 * answer host tools inline and send consult to the pool; record each call once.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import * as v from 'valibot';
import {
  type Catalog,
  describeIssues,
  isToolName,
  type SnapshotArgs,
  type ToolName,
} from '../../shared/catalog.ts';
import type { Config } from '../../shared/config.ts';
import { createFault, type FaultRecord, type Site } from '../../shared/fault.ts';
import { operationKey } from '../../shared/operation.ts';
import type { Clock } from '../clock.ts';
import { resolveConsult } from '../consult/consult-input.ts';
import { consultOutput } from '../consult/consult-output.ts';
import type { ConsultService } from '../consult/consult-service.ts';
import { ProgressReporter, type SendProgress } from '../consult/progress.ts';
import type { Supervisor } from '../consult/supervisor.ts';
import type { CallRecord, Recorder } from '../observability/recorder.ts';
import {
  type HealthView,
  healthOutput,
  type TelemetryView,
  telemetryOutput,
} from '../observability/snapshots.ts';
import type { CallOutcome } from '../observability/telemetry.ts';
import type { SessionStore } from '../state/session-store.ts';
import { faultResult, type Presentation, presentationOf, toCallToolResult } from './render.ts';

export type CallContext = {
  readonly requestId: string | number;
  readonly signal: AbortSignal;
  readonly progressToken: string | number | undefined;
  readonly sendProgress: SendProgress;
};

export type DispatchDeps = {
  readonly catalog: Catalog;
  readonly config: Config;
  readonly consults: ConsultService;
  readonly sessions: SessionStore;
  readonly recorder: Recorder;
  readonly supervisor: Supervisor;
  readonly clock: Clock;
  readonly serverCwd: string;
  readonly health: () => HealthView;
  readonly telemetryView: () => TelemetryView;
};

type Answer = {
  result: CallToolResult;
  outcome: CallOutcome;
  fault?: FaultRecord;
  attempts: number;
  consult?: CallRecord['consult'];
};

type Handler = (args: unknown, ctx: CallContext, site: Site) => Promise<Answer>;

export function createDispatcher(deps: DispatchDeps) {
  const { catalog, supervisor, clock } = deps;
  let inArrivalOrder: Promise<unknown> = Promise.resolve();

  const invalid = (site: Site, detail: string): Answer => {
    const fault = createFault('invalid_input', site, detail);
    return { result: faultResult(fault), outcome: 'error', fault, attempts: 0 };
  };

  const snapshot =
    (render: (p: Presentation) => CallToolResult): Handler =>
    async (args, _ctx, site) => {
      const parsed = v.safeParse(catalog.snapshotSchema, args, { abortEarly: false });
      if (!parsed.success) return invalid(site, describeIssues(parsed.issues));
      return {
        result: render(presentationOf(parsed.output as SnapshotArgs)),
        outcome: 'ok',
        attempts: 0,
      };
    };

  const consult: Handler = async (args, ctx, site) => {
    const parsed = v.safeParse(catalog.consultSchema, args, { abortEarly: false });
    if (!parsed.success) return invalid(site, describeIssues(parsed.issues));
    const input = parsed.output;
    // Resolution (cwd checks) is asynchronous; chaining it keeps consults in arrival order on
    // their way to the FIFO admission queue.
    const resolving = inArrivalOrder.then(() => resolveConsult(input, deps));
    inArrivalOrder = resolving.catch(() => undefined);
    const resolved = await resolving;
    if (!resolved.ok) return invalid(site, resolved.error);
    const { request, timeoutMs } = resolved.value;
    const progress =
      ctx.progressToken === undefined
        ? undefined
        : new ProgressReporter(
            ctx.progressToken,
            ctx.sendProgress,
            deps.config.progressIntervalMs,
            clock.monotonicMs,
          );
    try {
      const outcome = await deps.consults.run({ request, timeoutMs, signal: ctx.signal, progress });
      const record = (
        sessionId: string | null,
        extra: Partial<NonNullable<CallRecord['consult']>> = {},
      ) => ({
        prompt: request.prompt,
        cwd: request.cwd,
        model: request.model ?? null,
        cost_usd: null,
        usage: null,
        session_id: sessionId,
        ...extra,
      });
      if (outcome.kind === 'cancelled') {
        // The client cancelled: the SDK sends nothing for an aborted request, as MCP requires.
        const fault = createFault('cancelled', site, 'the consult was cancelled');
        return {
          result: faultResult(fault),
          outcome: 'cancelled',
          attempts: outcome.attempts,
          consult: record(null),
        };
      }
      if (outcome.kind === 'fault') {
        const sessionId = outcome.fault.hint?.session_id ?? null;
        if (sessionId !== null) deps.sessions.remember(sessionId, request.cwd);
        return {
          result: faultResult(outcome.fault),
          outcome: outcome.fault.fault.code === 'timeout' ? 'timeout' : 'error',
          fault: outcome.fault,
          attempts: outcome.attempts,
          consult: record(sessionId),
        };
      }
      const value = outcome.value;
      // Where the CLI really ran (pinned at its start), which is where a resume must run too.
      if (value.session_id !== null) deps.sessions.remember(value.session_id, value.cwd);
      const output = consultOutput(value, {
        cwd: value.cwd,
        promptChars: request.prompt.length,
        maxTurns: request.maxTurns ?? null,
        generation: outcome.generation,
        attempts: outcome.attempts,
      });
      return {
        result: toCallToolResult(output, presentationOf(input)),
        outcome: 'ok',
        attempts: outcome.attempts,
        consult: record(value.session_id, {
          cwd: value.cwd,
          model: value.model,
          cost_usd: value.total_cost_usd,
          usage: value.usage,
        }),
      };
    } finally {
      progress?.close();
    }
  };

  /** The tool table's handlers: the Record type makes a missing entry a compile error. */
  const handlers: Record<ToolName, Handler> = {
    consult,
    health_snapshot: snapshot((p) => toCallToolResult(healthOutput(deps.health()), p)),
    telemetry_snapshot: snapshot((p) => toCallToolResult(telemetryOutput(deps.telemetryView()), p)),
  };

  return async function callTool(
    name: string,
    args: unknown,
    ctx: CallContext,
  ): Promise<CallToolResult> {
    const known = isToolName(catalog, name);
    // Unknown names share one telemetry key, so stray names cannot grow the table without bound.
    const operation = known ? operationKey('tools/call', name) : 'tools/call';
    const site: Site = {
      generation: supervisor.generation,
      stage: 'host',
      operation: operationKey('tools/call', name),
    };
    const started = clock.monotonicMs();
    let answer: Answer;
    try {
      answer = known
        ? await handlers[name](args ?? {}, ctx, site)
        : invalid(
            site,
            `unknown tool \`${name}\` (available: ${[...catalog.specs.keys()].join(', ')})`,
          );
    } catch (error) {
      const fault = createFault(
        'internal_failure',
        site,
        `internal error: ${(error as Error).message}`,
      );
      answer = { result: faultResult(fault), outcome: 'error', fault, attempts: 0 };
    }
    const latency = clock.monotonicMs() - started;
    if (answer.fault !== undefined && answer.fault.fault.code !== 'invalid_input')
      supervisor.fault(answer.fault);
    deps.recorder.call({
      request_id: ctx.requestId,
      operation,
      tool: name,
      outcome: answer.outcome,
      latency_ms: Math.round(latency * 1000) / 1000,
      generation: answer.fault?.fault.generation ?? supervisor.generation,
      attempts: answer.attempts,
      fault: answer.fault,
      ...(answer.consult === undefined ? {} : { consult: answer.consult }),
    });
    return answer.result;
  };
}
