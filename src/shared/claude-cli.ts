/**
 * How phone-opus drives the Claude Code CLI: the exact argv (SPEC §5.1) and the environment.
 * Pure functions; spawning lives in process-tree.ts.
 */
import type { ConsultRequest } from './wire.ts';

/** Found on PATH unless PHONE_OPUS_CLAUDE_BIN names it. */
export const DEFAULT_CLAUDE_BIN = 'claude';

/** Read-only built-in tools. Edit, Write and NotebookEdit are never offered. */
export const CLAUDE_TOOLSET = 'Bash,Read,Grep,Glob,WebFetch,WebSearch';
export const EMPTY_MCP_CONFIG = '{"mcpServers":{}}';

/**
 * The calling session's wiring, not the user's configuration (SPEC §10): a Claude Code that
 * starts phone-opus passes its own per-session variables down, and a consult's CLI would
 * otherwise act as part of that session (older CLIs refuse to start nested; newer ones write
 * into the caller's notes directory or talk to its messaging socket). The user's settings —
 * `ANTHROPIC_*`, `CLAUDE_CODE_OAUTH_TOKEN`, `CLAUDE_CODE_USE_BEDROCK`/`_VERTEX`,
 * `CLAUDE_CONFIG_DIR`, proxies — pass through.
 */
const SESSION_VARIABLES: ReadonlySet<string> = new Set([
  'CLAUDECODE',
  'CLAUDE_CODE_ENTRYPOINT',
  'CLAUDE_CODE_SESSION_ID',
  'CLAUDE_PROJECT_DIR',
  'CLAUDE_CODE_CHILD_NOTES_DIR',
  'CLAUDE_CODE_LAUNCHED_BY_SESSION_IDS',
  'CLAUDE_CODE_SSE_PORT',
]);
/** Families of the same wiring (e.g. CLAUDE_CODE_MESSAGING_SOCKET and _TOKEN). */
const SESSION_PREFIXES = [
  'CLAUDE_CODE_MESSAGING_',
  'CLAUDE_CODE_SESSION_',
  'CLAUDE_CODE_CHILD_',
  'CLAUDE_CODE_LAUNCHED_BY_',
  'CLAUDE_CODE_SSE_',
];

/** Does this variable belong to a calling Claude Code session rather than to the user? */
export const isSessionWiring = (name: string): boolean =>
  SESSION_VARIABLES.has(name) || SESSION_PREFIXES.some((prefix) => name.startsWith(prefix));

export function buildClaudeArgv(request: ConsultRequest): string[] {
  const argv = [
    '-p',
    '--output-format',
    'stream-json',
    '--verbose',
    '--strict-mcp-config',
    '--mcp-config',
    EMPTY_MCP_CONFIG,
    '--disable-slash-commands',
    '--no-chrome',
    '--tools',
    CLAUDE_TOOLSET,
    '--permission-mode',
    'dontAsk',
  ];
  if (request.maxTurns !== undefined) argv.push('--max-turns', String(request.maxTurns));
  if (request.model !== undefined) argv.push('--model', request.model);
  if (request.maxBudgetUsd !== undefined)
    argv.push('--max-budget-usd', String(request.maxBudgetUsd));
  if (request.resumeSessionId !== undefined) argv.push('--resume', request.resumeSessionId);
  return argv;
}

export function claudeChildEnv(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !isSessionWiring(key)) out[key] = value;
  }
  return out;
}
