import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * A prompt that scripts the fake CLI (test/fixtures/fake-claude.mjs): `text` then a
 * `#fake {…}` directive (sleep_ms, result, result_bytes, is_error, tools, grandchildren, …).
 */
export const fake = (directive: object, text = 'q'): string =>
  `${text} #fake ${JSON.stringify(directive)}`;

/** The structuredContent of a render=json result, as a plain record. */
export const structured = (result: { structuredContent?: unknown } | CallToolResult) =>
  result.structuredContent as Record<string, unknown>;
