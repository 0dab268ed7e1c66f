/**
 * Token counts of a CLI `usage` object: every numeric `*_tokens` field, keyed by the kind
 * (`input`, `output`, `cache_creation_input`, `cache_read_input`). Nested objects are skipped.
 */
export function tokenCounts(usage: unknown): Record<string, number> {
  const counts: Record<string, number> = {};
  if (typeof usage !== 'object' || usage === null) return counts;
  for (const [key, value] of Object.entries(usage as Record<string, unknown>)) {
    if (typeof value === 'number' && Number.isFinite(value) && key.endsWith('_tokens')) {
      counts[key.slice(0, -'_tokens'.length)] = value;
    }
  }
  return counts;
}
