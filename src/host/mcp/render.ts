/**
 * Presentation (SPEC §5.4): porcelain → text only; json → structuredContent plus the same
 * JSON as text. Porcelain is line-oriented and deterministic; truncation is always explicit.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { FaultRecord } from '../../shared/fault.ts';
import type { Detail, Render } from '../../shared/tool-schemas.ts';

export type Presentation = { readonly render: Render; readonly detail: Detail };

export const presentationOf = (args: {
  render?: Render | undefined;
  detail?: Detail | undefined;
}): Presentation => ({
  render: args.render ?? 'porcelain',
  detail: args.detail ?? 'concise',
});

export type ToolOutput = {
  readonly concise: Record<string, unknown>;
  readonly full: Record<string, unknown>;
  /** Built only when asked for: a consult's text can be megabytes. */
  readonly porcelainConcise: () => string;
  readonly porcelainFull: () => string;
};

export function toCallToolResult(output: ToolOutput, p: Presentation): CallToolResult {
  if (p.render === 'porcelain') {
    return {
      content: [
        {
          type: 'text',
          text: p.detail === 'full' ? output.porcelainFull() : output.porcelainConcise(),
        },
      ],
    };
  }
  const data = p.detail === 'full' ? output.full : output.concise;
  return {
    content: [{ type: 'text', text: JSON.stringify(data, null, 2) }],
    structuredContent: data,
  };
}

/** A tool fault: an `isError` result whose structuredContent is the fault record. */
export function faultResult(fault: FaultRecord): CallToolResult {
  return {
    content: [{ type: 'text', text: faultText(fault) }],
    structuredContent: fault as unknown as Record<string, unknown>,
    isError: true,
  };
}

/** `error timeout: consult timed out …` then the hint, so a model can act on the text alone. */
export function faultText(fault: FaultRecord): string {
  const head = `error ${fault.fault.code}${fault.reason === undefined ? '' : ` (${fault.reason})`}: ${fault.fault.detail}`;
  const lines = [head];
  const hint = fault.hint;
  if (hint?.message !== undefined) lines.push(`hint: ${hint.message}`);
  const facts: string[] = [];
  if (hint?.session_id !== undefined) facts.push(`session=${hint.session_id}`);
  if (hint?.num_turns !== undefined) facts.push(`turns=${hint.num_turns}`);
  if (hint?.elapsed_ms !== undefined) facts.push(`elapsed=${formatDuration(hint.elapsed_ms)}`);
  if (hint?.retry_after_ms !== undefined) facts.push(`retry_after_ms=${hint.retry_after_ms}`);
  facts.push(`retryable=${fault.retryable}`, `generation=${fault.fault.generation}`);
  if (fault.retried) facts.push('retried=true');
  lines.push(facts.join(' '));
  return lines.join('\n');
}

/** `850ms`, `1.234s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(3)}s`;
}

/** `key: value` lines for scalars; nested values as compact JSON, bounded with an explicit marker. */
export function keyValueLines(record: Record<string, unknown>, maxInline = 400): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    lines.push(`${key}: ${bounded(text, maxInline)}`);
  }
  return lines;
}

export function bounded(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… [truncated ${text.length - max} chars]` : text;
}
