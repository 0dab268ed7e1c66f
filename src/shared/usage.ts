/**
 * Token counts of a CLI `usage` object — the one walker every reader uses (telemetry, the call
 * log, metrics, the consult's full detail): every finite numeric `*_tokens` field, keyed by
 * its kind (`input`, `output`, `cache_creation_input`, `cache_read_input`). Nested objects
 * are skipped.
 */
import { parseAs, UsageSchema } from './cli-output.ts';

export function tokenCounts(usage: unknown): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [key, value] of Object.entries(parseAs(UsageSchema, usage) ?? {})) {
    if (typeof value === 'number' && Number.isFinite(value) && key.endsWith('_tokens')) {
      counts[key.slice(0, -'_tokens'.length)] = value;
    }
  }
  return counts;
}
