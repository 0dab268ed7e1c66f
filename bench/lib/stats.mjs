// Distributions and run aggregation (docs/performance.md: median of run medians, [min..max]).

/** Linear-interpolated quantile of an ascending array. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

const ascending = (values) => [...values].sort((a, b) => a - b);

export const median = (values) => quantile(ascending(values), 0.5);

/** n, min, p10, median, p90, p99, max of a sample. */
export function summarize(values) {
  const s = ascending(values);
  return {
    n: s.length,
    min: s[0],
    p10: quantile(s, 0.1),
    median: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    p99: quantile(s, 0.99),
    max: s[s.length - 1],
  };
}

/** The reported figure: median over runs of a per-run value, with the range of those values. */
export function acrossRuns(values) {
  const s = ascending(values);
  return { median: quantile(s, 0.5), min: s[0], max: s[s.length - 1], runs: values };
}
