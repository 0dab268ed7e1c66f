import type { ConsultRequest } from '../shared/wire.ts';

/**
 * How phone-opus drives the Claude Code CLI: the exact argv (SPEC §5.1) and the environment.
 * Pure functions; spawning lives in process-tree.ts.
 */

/** Read-only built-in tools. Edit, Write and NotebookEdit are never offered. */
export const CLAUDE_TOOLSET = 'Bash,Read,Grep,Glob,WebFetch,WebSearch';
export const EMPTY_MCP_CONFIG = '{"mcpServers":{}}';

/** Variables that make the CLI refuse to start when phone-opus itself runs inside Claude Code. */
const NESTING_VARIABLES = ['CLAUDECODE', 'CLAUDE_CODE_ENTRYPOINT'];

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
    if (value !== undefined && !NESTING_VARIABLES.includes(key)) out[key] = value;
  }
  return out;
}
