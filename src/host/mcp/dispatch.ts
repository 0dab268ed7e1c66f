/**
 * `tools/call`: look the tool up in the one tool table, validate its arguments at the host,
 * answer host tools inline, hand the consult tools their jobs; record each call once.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import * as v from 'valibot';
import {
  describeIssues,
  isToolName,
  type SnapshotArgs,
  type ToolName,
} from '../../shared/catalog.ts';
import { createFault, type FaultRecord, type Site } from '../../shared/fault.ts';
import { operationKey } from '../../shared/operation.ts';
import type { Clock } from '../clock.ts';
import type { SendProgress } from '../consult/progress.ts';
import type { Supervisor } from '../consult/supervisor.ts';
import type { JobRecord } from '../jobs/job-record.ts';
import type { CallRecord, Recorder } from '../observability/recorder.ts';
import {
  type HealthView,
  healthOutput,
  type TelemetryView,
  telemetryOutput,
} from '../observability/snapshots.ts';
import type { CallOutcome } from '../observability/telemetry.ts';
import { type ConsultToolsDeps, consultTools } from './consult-tools.ts';
import { faultResult, type Presentation, presentationOf, toCallToolResult } from './render.ts';

export type CallContext = {
  readonly requestId: string | number;
  readonly signal: AbortSignal;
  readonly progressToken: string | number | undefined;
  readonly sendProgress: SendProgress;
};

export type DispatchDeps = ConsultToolsDeps & {
  readonly recorder: Recorder;
  readonly supervisor: Supervisor;
  readonly clock: Clock;
  readonly serverCwd: string;
  readonly health: () => HealthView;
  readonly telemetryView: () => TelemetryView;
};

/** How a tool call ended, for its response and its record. */
export type Answer = {
  result: CallToolResult;
  outcome: CallOutcome;
  fault?: FaultRecord;
  attempts: number;
  job_id?: string;
  consult?: CallRecord['consult'];
};

export type Handler = (args: unknown, ctx: CallContext, site: Site) => Promise<Answer>;

export function createDispatcher(deps: DispatchDeps) {
  const { catalog, supervisor, clock } = deps;

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

  const tools = consultTools(deps);
  /** The tool table's handlers: the Record type makes a missing entry a compile error. */
  const handlers: Record<ToolName, Handler> = {
    consult: tools.consult,
    consult_result: tools.consultResult,
    consult_cancel: tools.consultCancel,
    health_snapshot: snapshot((p) => toCallToolResult(healthOutput(deps.health()), p)),
    telemetry_snapshot: snapshot((p) => toCallToolResult(telemetryOutput(deps.telemetryView()), p)),
  };

  /** Run one handler as one call: its fault is remembered, the call recorded once. */
  async function run(
    name: string,
    ctx: CallContext,
    handler: (site: Site) => Promise<Answer>,
  ): Promise<Answer> {
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
        ? await handler(site)
        : invalid(
            site,
            `unknown tool \`${name}\` (available: ${[...catalog.specs.keys()].join(', ')})`,
          );
    } catch (error) {
      const message = `internal error: ${(error as Error).message}`;
      const fault = createFault('internal_failure', site, message);
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
      ...(answer.job_id === undefined ? {} : { job_id: answer.job_id }),
      ...(answer.consult === undefined ? {} : { consult: answer.consult }),
    });
    return answer;
  }

  const callTool = async (name: string, args: unknown, ctx: CallContext): Promise<CallToolResult> =>
    (await run(name, ctx, (site) => handlers[name as ToolName](args ?? {}, ctx, site))).result;

  return {
    callTool,
    /**
     * A consult asked for as an MCP task: its job, started (or joined) and not waited for; a
     * refusal (or any other tool) answers as a plain call.
     */
    startTask: async (
      name: string,
      args: unknown,
      ctx: CallContext,
      ttlMs: number | undefined,
    ): Promise<{ job: JobRecord } | { result: CallToolResult }> => {
      if (name !== 'consult') return { result: await callTool(name, args, ctx) };
      let job: JobRecord | undefined;
      const answer = await run(name, ctx, async (site) => {
        const started = await tools.startTask(args ?? {}, site, ttlMs);
        if ('refused' in started) return started.refused;
        job = started.job;
        return { result: { content: [] }, outcome: 'ok', attempts: 0, job_id: job.job_id };
      });
      return job === undefined ? { result: answer.result } : { job };
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
