/**
 * `phone-opus init --client <name> [--write]` (SPEC §2): the exact snippet that adds this
 * server to an MCP client. The snippet alone goes to stdout (so it can be piped); where it
 * goes and client-specific advice go to stderr. `--write` merges it into the client's config
 * file without touching other servers, and refuses rather than overwrite a different entry.
 */
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { resolveExecutable } from '../host/state/claude-probe.ts';
import { DEFAULT_CLAUDE_BIN } from '../shared/claude-cli.ts';
import { ENV, readConfig } from '../shared/config.ts';
import { SERVER_KEY, type ServerEntry, writeJson, writeToml } from './client-config.ts';
import { binScript } from './paths.ts';

export const CLIENTS = ['claude-code', 'codex', 'cursor', 'claude-desktop'] as const;
export type ClientName = (typeof CLIENTS)[number];
export const isClient = (value: string): value is ClientName =>
  (CLIENTS as readonly string[]).includes(value);

/** Codex waits this long for the server's `initialize` answer. */
const STARTUP_TIMEOUT_S = 20;
/** The client's tool timeout exceeds the consult timeout, so that phone-opus answers first. */
const TOOL_TIMEOUT_MARGIN_S = 60;

export type InitIo = {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly platform: NodeJS.Platform;
  readonly out: (text: string) => void;
  readonly err: (line: string) => void;
};

type Launch = {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
};

/**
 * Clients that end a call on a clock of their own, which no setting lengthens: a consult
 * returns a pending result (and is picked up with consult_result) before that clock runs out
 * (SPEC §11). Claude Desktop gives up after about 4 min; Cursor's limit is not documented, so
 * it gets the short wait that suits any client (a longer consult just takes more polls).
 */
const DEFAULT_WAIT_S: Partial<Record<ClientName, number>> = { 'claude-desktop': 200, cursor: 50 };

/** GUI apps do not inherit the shell's PATH: they get absolute paths only. */
const isGui = (client: ClientName) => client === 'cursor' || client === 'claude-desktop';

export async function runInit(
  options: { client: ClientName; write: boolean },
  io: InitIo,
): Promise<number> {
  const config = readConfig(io.env, io.cwd);
  if (!config.ok) {
    io.err(`phone-opus: invalid configuration: ${config.error}`);
    return 2;
  }
  const { client } = options;
  const launch = await launchFor(client, config.value.claudeBin, io);
  const toolTimeoutS = config.value.consultTimeoutS + TOOL_TIMEOUT_MARGIN_S;
  const target = configFile(client, io);
  const snippet =
    client === 'codex'
      ? codexToml(launch, toolTimeoutS)
      : `${JSON.stringify(jsonConfig(client, launch, toolTimeoutS), null, 2)}\n`;

  if (!options.write) {
    io.out(snippet);
    io.err(`# ${client}: add this to ${target} (or run with --write to do it)`);
    for (const note of notes(client, launch, toolTimeoutS, io)) io.err(`# ${note}`);
    return 0;
  }
  const written =
    client === 'codex'
      ? writeToml(target, snippet)
      : writeJson(target, jsonConfig(client, launch, toolTimeoutS).mcpServers[SERVER_KEY]);
  if (written.kind === 'refused') {
    io.err(`phone-opus: ${written.reason}`);
    return 1;
  }
  io.out(
    written.kind === 'unchanged'
      ? `${target} already has this ${SERVER_KEY} server; nothing to do\n`
      : `added the ${SERVER_KEY} server to ${target}\n`,
  );
  for (const note of notes(client, launch, toolTimeoutS, io)) io.err(`# ${note}`);
  return 0;
}

/** `phone-opus` when PATH finds this very package (terminal clients), else node + the script. */
async function launchFor(
  client: ClientName,
  claudeBin: string | undefined,
  io: InitIo,
): Promise<Launch> {
  const script = binScript();
  const env: Record<string, string> = {};
  const waitS = DEFAULT_WAIT_S[client];
  if (waitS !== undefined) env[ENV.defaultWaitS] = String(waitS);
  if (isGui(client)) {
    const claude = await resolveExecutable(claudeBin ?? DEFAULT_CLAUDE_BIN, io.env, io.cwd);
    if (claude.ok) env[ENV.claudeBin] = claude.path;
  } else {
    const onPath = await resolveExecutable('phone-opus', io.env, io.cwd);
    if (onPath.ok && sameFile(onPath.path, script)) return { command: 'phone-opus', args: [], env };
  }
  return { command: process.execPath, args: [script], env };
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function jsonConfig(
  client: ClientName,
  launch: Launch,
  toolTimeoutS: number,
): { mcpServers: Record<string, ServerEntry> } {
  const entry: ServerEntry = {
    ...(client === 'claude-code' ? { type: 'stdio' } : {}),
    command: launch.command,
    args: [...launch.args],
    ...(Object.keys(launch.env).length === 0 ? {} : { env: { ...launch.env } }),
    // Claude Code ends a call at this wall-clock limit (ms) whatever progress it sees.
    ...(client === 'claude-code' ? { timeout: toolTimeoutS * 1000 } : {}),
  };
  return { mcpServers: { [SERVER_KEY]: entry } };
}

/** TOML basic strings accept JSON's escapes, so JSON.stringify quotes them correctly. */
function codexToml(launch: Launch, toolTimeoutS: number): string {
  const lines = [
    `[mcp_servers.${SERVER_KEY}]`,
    `command = ${JSON.stringify(launch.command)}`,
    `args = [${launch.args.map((a) => JSON.stringify(a)).join(', ')}]`,
    `startup_timeout_sec = ${STARTUP_TIMEOUT_S}`,
    `tool_timeout_sec = ${toolTimeoutS}`,
  ];
  const env = Object.entries(launch.env);
  if (env.length > 0) {
    lines.push('', `[mcp_servers.${SERVER_KEY}.env]`);
    for (const [key, value] of env) lines.push(`${key} = ${JSON.stringify(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function configFile(
  client: ClientName,
  io: Pick<InitIo, 'env' | 'cwd' | 'platform'>,
): string {
  const home = io.env['HOME'] ?? homedir();
  switch (client) {
    case 'claude-code':
      return join(io.cwd, '.mcp.json');
    case 'codex':
      return join(io.env['CODEX_HOME'] ?? join(home, '.codex'), 'config.toml');
    case 'cursor':
      return join(home, '.cursor', 'mcp.json');
    case 'claude-desktop':
      if (io.platform === 'darwin')
        return join(home, 'Library', 'Application Support', 'Claude', 'claude_desktop_config.json');
      if (io.platform === 'win32')
        return join(
          io.env['APPDATA'] ?? join(home, 'AppData', 'Roaming'),
          'Claude',
          'claude_desktop_config.json',
        );
      return join(
        io.env['XDG_CONFIG_HOME'] ?? join(home, '.config'),
        'Claude',
        'claude_desktop_config.json',
      );
  }
}

function notes(client: ClientName, launch: Launch, toolTimeoutS: number, io: InitIo): string[] {
  const out: string[] = [];
  const quoted = [launch.command, ...launch.args].map(shellQuote).join(' ');
  if (client === 'claude-code') {
    out.push(`or, for every project: claude mcp add --scope user ${SERVER_KEY} -- ${quoted}`);
    out.push(
      `consults can run ${toolTimeoutS - TOOL_TIMEOUT_MARGIN_S} s and Claude Code ends a call at its timeout whatever progress it gets: the entry's "timeout" (ms) covers that; a server added with \`claude mcp add\` needs MCP_TOOL_TIMEOUT=${toolTimeoutS * 1000} in Claude Code's environment instead`,
    );
  }
  if (client === 'codex' && io.env['ANTHROPIC_API_KEY'] !== undefined) {
    out.push(
      'Codex passes few environment variables to MCP servers: if Claude Code logs in with ANTHROPIC_API_KEY, add env_vars = ["ANTHROPIC_API_KEY"] to the table',
    );
  }
  if (isGui(client)) {
    if (launch.env[ENV.claudeBin] === undefined)
      out.push(
        `the Claude CLI was not found: add "env": {"${ENV.claudeBin}": "/path/to/claude"} to the entry (apps started from the desktop do not see your shell's PATH)`,
      );
    const waitS = DEFAULT_WAIT_S[client];
    if (waitS !== undefined)
      out.push(
        `${client === 'cursor' ? 'Cursor' : 'Claude Desktop'} ends a tool call on its own clock: ${ENV.defaultWaitS}=${waitS} makes a longer consult answer with a job_id after ${waitS} s and keep running; the model then calls consult_result`,
      );
    out.push(`restart ${client === 'cursor' ? 'Cursor' : 'Claude Desktop'} to load the server`);
  }
  return out;
}

const shellQuote = (word: string) =>
  /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
