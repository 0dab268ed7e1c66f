/**
 * The MCP session: initialize (SDK), ping (SDK), tools/list and tools/call. Tool handlers are
 * installed on the low-level server because `registerTool` only takes zod schemas.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Catalog } from '../../shared/catalog.ts';
import type { CallContext } from './dispatch.ts';

export const SERVER_NAME = 'phone_opus';

export const INSTRUCTIONS =
  'phone-opus lets you consult Claude Code as a read-only second opinion. Call `consult` with a prompt (and optionally cwd) to have the locally installed Claude Code CLI inspect a codebase and answer: it can read, search and run read-only shell commands in cwd, but it cannot edit files and has no MCP servers. A consult can take minutes and costs money; the result includes the answer, cost, turns and a session_id you can pass back to continue. Use health_snapshot to check the server and telemetry_snapshot for usage.';

export type CallTool = (name: string, args: unknown, ctx: CallContext) => Promise<CallToolResult>;

export function createSession(options: {
  version: string;
  catalog: Catalog;
  callTool: CallTool;
  /** The id the client gave a request (the transport hands the SDK ids of its own). */
  clientId: (id: string | number) => string | number | undefined;
}): Server {
  // The low-level Server, not McpServer: McpServer's tool registry takes only zod schemas (we
  // validate with valibot), would announce listChanged although the catalog is fixed per
  // process, and loading it costs ~25 ms of every start (server/mcp.js, zod-to-json-schema).
  const server = new Server(
    { name: SERVER_NAME, version: options.version },
    { capabilities: { tools: { listChanged: false }, logging: {} }, instructions: INSTRUCTIONS },
  );
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [...options.catalog.published],
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) =>
    options.callTool(request.params.name, request.params.arguments, {
      requestId: options.clientId(extra.requestId) ?? extra.requestId,
      signal: extra.signal,
      progressToken: extra._meta?.progressToken,
      sendProgress: (params) =>
        extra.sendNotification({ method: 'notifications/progress', params }),
    }),
  );
  return server;
}
