/**
 * The tool table: one entry per tool with its schema, dispatch target and replay contract.
 * Input schemas are valibot; the published JSON Schemas are generated from them once.
 */
import { toJsonSchema } from '@valibot/to-json-schema';
import type * as v from 'valibot';
import type { Config } from './config.ts';
import type { ReplayContract } from './replay.ts';
import {
  type ConsultArgs,
  consultSchema,
  type JobArgs,
  jobSchema,
  type ResultArgs,
  resultSchema,
  type SnapshotArgs,
  snapshotSchema,
} from './tool-schemas.ts';

export type { ConsultArgs, JobArgs, ResultArgs, SnapshotArgs };

export type ToolName =
  | 'consult'
  | 'consult_result'
  | 'consult_cancel'
  | 'health_snapshot'
  | 'telemetry_snapshot';
export type Dispatch = 'host' | 'worker';

export type ToolSpec = {
  readonly name: ToolName;
  readonly title: string;
  readonly description: string;
  readonly dispatch: Dispatch;
  readonly replayContract: ReplayContract;
  readonly openWorld: boolean;
  readonly schema: v.GenericSchema;
  /** May a client ask for this call as an MCP task (2025-11-25 `execution.taskSupport`)? */
  readonly taskSupport?: 'optional';
};

/** The MCP `tools/list` entry. */
export type PublishedTool = {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: { readonly type: 'object'; readonly [key: string]: unknown };
  readonly execution?: { readonly taskSupport: 'optional' };
  readonly annotations: {
    readonly title: string;
    readonly readOnlyHint: true;
    readonly destructiveHint: false;
    readonly openWorldHint: boolean;
    readonly phoneOpus: PhoneOpusMeta;
  };
  /** The same, where SDK clients keep it (they strip unknown annotation keys). */
  readonly _meta: { readonly phoneOpus: PhoneOpusMeta };
};

type PhoneOpusMeta = { readonly dispatch: Dispatch; readonly replayContract: ReplayContract };

export type Catalog = {
  readonly specs: ReadonlyMap<ToolName, ToolSpec>;
  readonly consultSchema: ReturnType<typeof consultSchema>;
  readonly snapshotSchema: typeof snapshotSchema;
  readonly resultSchema: typeof resultSchema;
  readonly jobSchema: typeof jobSchema;
  readonly published: readonly PublishedTool[];
};

export function createCatalog(config: Config): Catalog {
  const consult = consultSchema(config);
  const specs: ToolSpec[] = [
    {
      name: 'consult',
      title: 'Consult Claude Code',
      description:
        'Ask Claude Code for a read-only second opinion about a codebase. Runs the local Claude Code CLI in print mode in `cwd` with only read-only tools (Read, Grep, Glob, read-only Bash, WebFetch, WebSearch; no edits, no MCP servers, dontAsk permissions) and returns its answer with cost, turns and session_id. Can take minutes; pass session_id to continue a conversation.',
      dispatch: 'worker',
      replayContract: config.consultReplay,
      openWorld: true,
      schema: consult,
      taskSupport: 'optional',
    },
    {
      name: 'consult_result',
      title: 'Consult result',
      description:
        'Get the answer of a consult that returned a pending result (a job_id): waits up to wait_s for it, then returns the answer exactly as consult would have, or the job still pending (call again). Works for jobs started by any phone-opus server of this user, also after a restart.',
      dispatch: 'host',
      replayContract: 'convergent',
      openWorld: false,
      schema: resultSchema,
    },
    {
      name: 'consult_cancel',
      title: 'Cancel a consult',
      description:
        'Stop a running consult by its job_id (its Claude Code process is ended, the job recorded as cancelled). A finished job is left as it is.',
      dispatch: 'host',
      replayContract: 'convergent',
      openWorld: false,
      schema: jobSchema,
    },
    {
      name: 'health_snapshot',
      title: 'Health snapshot',
      description:
        'Read the server state: lifecycle, worker generation and threads, in-flight and queued consults, circuit, rollout, last fault, Claude CLI path and version. Answers instantly, also while consults run. Defaults to render=porcelain; use render=json for structured output.',
      dispatch: 'host',
      replayContract: 'convergent',
      openWorld: false,
      schema: snapshotSchema,
    },
    {
      name: 'telemetry_snapshot',
      title: 'Telemetry snapshot',
      description:
        'Read aggregate request telemetry for this server: totals, retries, cancellations, timeouts, worker restarts, consult cost and tokens, and per-method latency. Defaults to render=porcelain; use render=json for structured output.',
      dispatch: 'host',
      replayContract: 'convergent',
      openWorld: false,
      schema: snapshotSchema,
    },
  ];
  return {
    specs: new Map(specs.map((s) => [s.name, s])),
    consultSchema: consult,
    snapshotSchema,
    resultSchema,
    jobSchema,
    published: specs.map(publish),
  };
}

function publish(spec: ToolSpec): PublishedTool {
  const { $schema: _drop, ...schema } = toJsonSchema(spec.schema, { errorMode: 'ignore' }) as {
    $schema?: string;
    [key: string]: unknown;
  };
  const meta = { dispatch: spec.dispatch, replayContract: spec.replayContract };
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    inputSchema: { ...schema, type: 'object' },
    ...(spec.taskSupport === undefined ? {} : { execution: { taskSupport: spec.taskSupport } }),
    annotations: {
      title: spec.title,
      readOnlyHint: true,
      destructiveHint: false,
      openWorldHint: spec.openWorld,
      phoneOpus: meta,
    },
    _meta: { phoneOpus: meta },
  };
}

export const isToolName = (catalog: Catalog, name: string): name is ToolName =>
  catalog.specs.has(name as ToolName);

/** Valibot issues → one line naming each field and its rule. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const issue of issues) {
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '(arguments)';
    if (seen.has(path)) continue; // the first rule a field broke is the useful one
    seen.add(path);
    const missing =
      issue.kind === 'schema' && issue.input === undefined && issue.path !== undefined;
    parts.push(`${path}: ${missing ? 'is required' : issue.message}`);
  }
  return `invalid arguments: ${parts.join('; ')}`;
}
