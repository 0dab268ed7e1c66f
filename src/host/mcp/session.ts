/**
 * The MCP session on the SDK's v2 line (SPEC §4, §12): the SDK serves both protocol eras on
 * one stdio connection — 2025-era clients with the `initialize` handshake, 2026-07-28 clients
 * statelessly (`server/discover`, the version in each request's `_meta`, `resultType` and
 * `serverInfo` on results, -32022 for an unsupported version) — through our own transport,
 * which keeps the protocol hygiene of SPEC §4. phone-opus adds `tools/list` and `tools/call`.
 */
import { type CallToolResult, Server } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Catalog } from '../../shared/catalog.ts';
import type { CallContext } from './dispatch.ts';
import type { GuardedStdioTransport } from './stdio-transport.ts';

export const SERVER_NAME = 'phone_opus';

export const INSTRUCTIONS =
  'phone-opus lets you consult Claude Code as a read-only second opinion. Call `consult` with a prompt (and optionally cwd) to have the locally installed Claude Code CLI inspect a codebase and answer: it can read, search and run read-only shell commands in cwd, but it cannot edit files and has no MCP servers. A consult can take minutes and costs money; the result includes the answer, cost, turns and a session_id you can pass back to continue. Use health_snapshot to check the server and telemetry_snapshot for usage.';

/** The 2025-era revisions a client may ask for in `initialize` (2026-07-28 is added by the SDK). */
export const LEGACY_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'];

export type CallTool = (name: string, args: unknown, ctx: CallContext) => Promise<CallToolResult>;

export type SessionOptions = {
  readonly version: string;
  readonly catalog: Catalog;
  readonly callTool: CallTool;
  readonly transport: GuardedStdioTransport;
};

/** Serve MCP on the transport; the SDK may build more than one Server (an era probe first). */
export function serveSession(options: SessionOptions): void {
  serveStdio(() => createServer(options), { transport: options.transport });
}

// The low-level Server, not McpServer: McpServer answers an unknown tool with a JSON-RPC error
// and bad arguments with text of its own, where SPEC §4–§6 want an isError result carrying
// phone-opus's fault record (valibot validates in dispatch.ts); and the catalog is fixed per
// process, so there is nothing for its registry to change.
function createServer(options: SessionOptions): Server {
  const server = new Server(
    { name: SERVER_NAME, version: options.version },
    {
      capabilities: { tools: { listChanged: false }, logging: {} },
      instructions: INSTRUCTIONS,
      supportedProtocolVersions: [...LEGACY_PROTOCOL_VERSIONS],
    },
  );
  server.setRequestHandler('tools/list', async () => ({
    tools: [...options.catalog.published],
  }));
  server.setRequestHandler('tools/call', async (request, ctx) =>
    options.callTool(request.params.name, request.params.arguments, {
      requestId: ctx.mcpReq.id,
      signal: ctx.mcpReq.signal,
      progressToken: ctx.mcpReq._meta?.progressToken,
      sendProgress: (params) => ctx.mcpReq.notify({ method: 'notifications/progress', params }),
    }),
  );
  return server;
}
