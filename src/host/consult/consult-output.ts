/** The consult result in its four projections (SPEC §5.1). The answer is never truncated. */
import { tokenCounts } from '../../shared/usage.ts';
import type { ConsultSuccess } from '../../shared/wire.ts';
import { formatDuration, keyValueLines, type ToolOutput } from '../mcp/render.ts';

export function consultOutput(
  value: ConsultSuccess,
  facts: {
    cwd: string;
    promptChars: number;
    maxTurns: number | null;
    generation: number;
    attempts: number;
  },
): ToolOutput {
  const concise = {
    response: value.response,
    cwd: facts.cwd,
    model: value.model,
    duration_ms: value.duration_ms,
    num_turns: value.num_turns,
    stop_reason: value.stop_reason,
    session_id: value.session_id,
    total_cost_usd: value.total_cost_usd,
    permission_denial_count: value.permission_denials.length,
  };
  const full = {
    ...concise,
    prompt_chars: facts.promptChars,
    max_turns: facts.maxTurns,
    duration_api_ms: value.duration_api_ms,
    usage: value.usage,
    model_usage: value.model_usage,
    permission_denials: value.permission_denials,
    generation: facts.generation,
    attempts: facts.attempts,
    build: value.build,
  };
  const head = [
    'consult ok',
    `turns=${value.num_turns}`,
    `duration=${formatDuration(value.duration_ms)}`,
  ];
  if (value.model !== null) head.push(`model=${value.model}`);
  if (value.stop_reason !== null) head.push(`stop=${value.stop_reason}`);
  if (value.total_cost_usd !== null) head.push(`cost=$${value.total_cost_usd.toFixed(6)}`);
  const lines = [head.join(' '), `cwd: ${facts.cwd}`];
  if (value.session_id !== null) lines.push(`session: ${value.session_id}`);
  if (value.permission_denials.length > 0)
    lines.push(`permission_denials: ${value.permission_denials.length}`);
  const porcelainConcise = () => [...lines, 'response:', value.response].join('\n');

  const porcelainFull = () =>
    [
      head.join(' '),
      ...keyValueLines({
        cwd: facts.cwd,
        session: value.session_id ?? undefined,
        api_duration:
          value.duration_api_ms === null ? undefined : formatDuration(value.duration_api_ms),
        prompt_chars: facts.promptChars,
        max_turns: facts.maxTurns ?? undefined,
        generation: facts.generation,
        attempts: facts.attempts,
        build: value.build,
        usage: usageLine(value.usage),
        permission_denials: value.permission_denials.length,
      }),
      ...value.permission_denials.map((d, i) =>
        `denied[${i + 1}]: ${JSON.stringify(d)}`.slice(0, 400),
      ),
      'response:',
      value.response,
    ].join('\n');
  return { concise, full, porcelainConcise, porcelainFull };
}

/** `input_tokens=12 output_tokens=40`: the token counts, sorted. */
function usageLine(usage: unknown): string | undefined {
  const parts = Object.entries(tokenCounts(usage))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, n]) => `${kind}_tokens=${n}`);
  return parts.length === 0 ? undefined : parts.join(' ');
}
