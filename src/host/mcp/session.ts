/**
 * The MCP session on the SDK's v2 line (SPEC §4, §12): the SDK serves both protocol eras on
 * one stdio connection — 2025-era clients with the `initialize` handshake, 2026-07-28 clients
 * statelessly (`server/discover`, the version in each request's `_meta`, `resultType` and
 * `serverInfo` on results, -32022 for an unsupported version) — through our own transport,
 * which keeps the protocol hygiene of SPEC §4. phone-opus adds the tools and, on the jobs
 * behind consults, MCP tasks in each era's form (SPEC §11).
 */
import { type CallToolResult, Server } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { toStandardJsonSchema } from '@valibot/to-json-schema';
import * as v from 'valibot';
import type { Catalog } from '../../shared/catalog.ts';
import type { JobService } from '../jobs/job-service.ts';
import type { CallContext, Dispatcher } from './dispatch.ts';
import type { GuardedStdioTransport } from './stdio-transport.ts';
import { TASKS_EXTENSION, task2025, task2026, taskHandlers, taskTtlMs } from './tasks.ts';

const SERVER_NAME = 'phone_opus';

const INSTRUCTIONS =
  'phone-opus lets you consult Claude Code as a read-only second opinion. Call `consult` with a prompt (and optionally cwd) to have the locally installed Claude Code CLI inspect a codebase and answer: it can read, search and run read-only shell commands in cwd, but it cannot edit files and has no MCP servers. A consult can take minutes and costs money; the result includes the answer, cost, turns and a session_id you can pass back to continue. A consult that is still running when the call returns (wait_s) answers with a job_id: get its answer with consult_result, stop it with consult_cancel. Use health_snapshot to check the server and telemetry_snapshot for usage.';

/** The 2025-era revisions a client may ask for in `initialize` (2026-07-28 is added by the SDK). */
const LEGACY_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'];

export type CallTool = (name: string, args: unknown, ctx: CallContext) => Promise<CallToolResult>;

export type SessionOptions = {
  readonly version: string;
  readonly catalog: Catalog;
  readonly dispatcher: Dispatcher;
  readonly jobs: JobService;
  readonly transport: GuardedStdioTransport;
};

/** Serve MCP on the transport; the SDK may build more than one Server (an era probe first). */
export function serveSession(options: SessionOptions): void {
  serveStdio(({ era }) => createServer(options, era), { transport: options.transport });
}

const TaskParams = toStandardJsonSchema(v.looseObject({ taskId: v.string() }));

// The low-level Server, not McpServer: McpServer answers an unknown tool with a JSON-RPC error
// and bad arguments with text of its own, where SPEC §4–§6 want an isError result carrying
// phone-opus's fault record (valibot validates in dispatch.ts); and the catalog is fixed per
// process, so there is nothing for its registry to change.
function createServer(options: SessionOptions, era: 'legacy' | 'modern'): Server {
  const { dispatcher } = options;
  const tasks = taskHandlers(options.jobs);
  const server = new Server(
    { name: SERVER_NAME, version: options.version },
    {
      capabilities: {
        tools: { listChanged: false },
        logging: {},
        ...(era === 'legacy'
          ? { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }
          : { extensions: { [TASKS_EXTENSION]: {} } }),
      },
      instructions: INSTRUCTIONS,
      supportedProtocolVersions: [...LEGACY_PROTOCOL_VERSIONS],
    },
  );
  server.setRequestHandler('tools/list', async () => ({
    tools: [...options.catalog.published],
  }));
  server.setRequestHandler('tools/call', async (request, ctx) => {
    const call: CallContext = {
      requestId: ctx.mcpReq.id,
      signal: ctx.mcpReq.signal,
      progressToken: ctx.mcpReq._meta?.progressToken,
      sendProgress: (params) => ctx.mcpReq.notify({ method: 'notifications/progress', params }),
    };
    const { name, arguments: args } = request.params;
    // A task when the client asks for one (2025: params.task) or accepts one (2026: extension).
    const params = request.params as { task?: { ttl?: number } };
    const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
    const capabilities = envelope?.['io.modelcontextprotocol/clientCapabilities'] as
      | { extensions?: Record<string, unknown> }
      | undefined;
    const asTask =
      era === 'legacy'
        ? params.task !== undefined
        : capabilities?.extensions?.[TASKS_EXTENSION] !== undefined;
    if (!asTask) return dispatcher.callTool(name, args, call);
    const started = await dispatcher.startTask(name, args, call, taskTtlMs(params.task?.ttl));
    if ('result' in started) return started.result;
    // The SDK checks a 2025 tools/call result as a CallToolResult: `content` goes along.
    return era === 'legacy'
      ? { content: [], task: task2025(started.job) }
      : ({ resultType: 'task', ...task2026(started.job) } as unknown as CallToolResult);
  });
  if (era === 'legacy') {
    const on = legacyHandler(server);
    on('tasks/get', async (params) => task2025(tasks.get(String(params['taskId']))));
    on('tasks/result', async (params, signal) => tasks.result(String(params['taskId']), signal));
    on('tasks/list', async (params) =>
      tasks.list(typeof params['cursor'] === 'string' ? params['cursor'] : undefined),
    );
    on('tasks/cancel', async (params) => task2025(await tasks.cancel(String(params['taskId']))));
  } else {
    // Methods of an extension are registered with their params schema on the 2026 wire.
    server.setRequestHandler('tasks/get', { params: TaskParams }, async (params) => ({
      resultType: 'complete',
      ...task2026(tasks.get(params.taskId)),
    }));
    server.setRequestHandler('tasks/cancel', { params: TaskParams }, async (params) => {
      await tasks.cancel(params.taskId);
      return { resultType: 'complete' };
    });
  }
  return server;
}

/**
 * The 2025-11-25 task methods: the SDK still routes and checks them on 2025 connections, but
 * its v2 types no longer list them (it keeps them "for interoperability only").
 */
function legacyHandler(server: Server) {
  type Handler = (
    request: { params?: Record<string, unknown> },
    ctx: { mcpReq: { signal: AbortSignal } },
  ) => Promise<unknown>;
  const set = server.setRequestHandler.bind(server) as unknown as (
    method: string,
    handler: Handler,
  ) => void;
  return (
    method: string,
    handler: (params: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>,
  ) => set(method, (request, ctx) => handler(request.params ?? {}, ctx.mcpReq.signal));
}
