/**
 * The tool table: one entry per tool with its schema, dispatch target and replay contract.
 * Input schemas are valibot; the published JSON Schemas are generated from them once.
 */
import { toJsonSchema } from '@valibot/to-json-schema';
import * as v from 'valibot';
import type { Config } from './config.ts';
import type { ReplayContract } from './replay.ts';

export type ToolName = 'consult' | 'health_snapshot' | 'telemetry_snapshot';
export type Dispatch = 'host' | 'worker';

export const MAX_PROMPT_BYTES = 1024 * 1024;
/** Far beyond any real consult, and a number every CLI parses exactly. */
export const MAX_TURNS = 10_000;

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

function consultSchema(config: Config) {
  const keys = [
    'prompt',
    'cwd',
    'max_turns',
    'model',
    'max_budget_usd',
    'session_id',
    'timeout_s',
    'render',
    'detail',
  ];
  return v.strictObject(
    {
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
      ...presentationEntries,
    },
    unknownKey(keys),
  );
}

const snapshotSchema = v.strictObject(presentationEntries, unknownKey(['render', 'detail']));

export type ConsultArgs = v.InferOutput<ReturnType<typeof consultSchema>>;
export type SnapshotArgs = v.InferOutput<typeof snapshotSchema>;

export type ToolSpec = {
  readonly name: ToolName;
  readonly title: string;
  readonly description: string;
  readonly dispatch: Dispatch;
  readonly replayContract: ReplayContract;
  readonly openWorld: boolean;
  readonly schema: v.GenericSchema;
};

/** The MCP `tools/list` entry. */
export type PublishedTool = {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: { readonly type: 'object'; readonly [key: string]: unknown };
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
