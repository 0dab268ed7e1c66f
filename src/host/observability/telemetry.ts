/**
 * Session counters for `telemetry_snapshot` (SPEC §5.3): totals, per-method stats with
 * latency percentiles, consult cost and tokens. Host thread only.
 */
import { type FaultRecord, isTransportFault } from '../../shared/fault.ts';
import { roundUsd } from '../../shared/money.ts';
import { tokenCounts } from '../../shared/usage.ts';

export type CallOutcome = 'ok' | 'error' | 'cancelled' | 'timeout';

type MethodStats = {
  requests: number;
  successes: number;
  response_errors: number;
  transport_faults: number;
  retries: number;
  latencies: number[];
  latencyNext: number;
  latencyCount: number;
  latencyTotal: number;
  latencyMax: number;
  last_error: string | null;
};

export type MethodSnapshot = {
  readonly method: string;
  readonly requests: number;
  readonly successes: number;
  readonly response_errors: number;
  readonly transport_faults: number;
  readonly retries: number;
  readonly avg_latency_ms: number;
  readonly p50_latency_ms: number;
  readonly p95_latency_ms: number;
  readonly max_latency_ms: number;
  readonly last_error: string | null;
};

export type Totals = {
  requests: number;
  successes: number;
  response_errors: number;
  transport_faults: number;
  retries: number;
  cancellations: number;
  timeouts: number;
};

export type Usage = {
  readonly cost_usd: number;
  readonly cost_usd_by_model: Readonly<Record<string, number>>;
  readonly tokens: Readonly<Record<string, number>>;
};

/** Latency samples kept per method for percentiles (a ring: recent behaviour matters most). */
const RING = 1024;

export class Telemetry {
  readonly totals: Totals = {
    requests: 0,
    successes: 0,
    response_errors: 0,
    transport_faults: 0,
    retries: 0,
    cancellations: 0,
    timeouts: 0,
  };
  #methods = new Map<string, MethodStats>();
  #cost = 0;
  #costByModel: Record<string, number> = {};
  #tokens: Record<string, number> = {};

  complete(method: string, outcome: CallOutcome, latencyMs: number, fault?: FaultRecord): void {
    this.#count(method);
    const stats = this.#stats(method);
    this.#latency(stats, latencyMs);
    if (outcome === 'cancelled') {
      this.totals.cancellations += 1;
      return;
    }
    if (outcome === 'timeout') this.totals.timeouts += 1;
    if (fault === undefined) {
      this.totals.successes += 1;
      stats.successes += 1;
      return;
    }
    stats.last_error = `${fault.fault.code}: ${fault.fault.detail}`;
    if (isTransportFault(fault)) {
      this.totals.transport_faults += 1;
      stats.transport_faults += 1;
    } else {
      this.totals.response_errors += 1;
      stats.response_errors += 1;
    }
  }

  /** A non-tool request answered (ping, initialize, tools/list, …). */
  completeProtocol(method: string, latencyMs: number, error: boolean): void {
    this.#count(method);
    const stats = this.#stats(method);
    this.#latency(stats, latencyMs);
    if (error) {
      this.totals.response_errors += 1;
      stats.response_errors += 1;
    } else {
      this.totals.successes += 1;
      stats.successes += 1;
    }
  }

  retry(method: string): void {
    this.totals.retries += 1;
    this.#stats(method).retries += 1;
  }

  addUsage(model: string | null, costUsd: number | null, usage: unknown): void {
    const name = model ?? 'unknown';
    if (costUsd !== null) {
      this.#cost += costUsd;
      this.#costByModel[name] = (this.#costByModel[name] ?? 0) + costUsd;
    }
    for (const [type, count] of Object.entries(tokenCounts(usage))) {
      this.#tokens[type] = (this.#tokens[type] ?? 0) + count;
    }
  }

  usage(): Usage {
    return {
      cost_usd: roundUsd(this.#cost),
      cost_usd_by_model: Object.fromEntries(
        Object.entries(this.#costByModel).map(([model, usd]) => [model, roundUsd(usd)]),
      ),
      tokens: { ...this.#tokens },
    };
  }

  /** Ranked by requests, then transport faults, then errors, then name. */
  methods(): MethodSnapshot[] {
    return [...this.#methods.entries()]
      .map(([method, s]) => snapshot(method, s))
      .sort(
        (a, b) =>
          b.requests - a.requests ||
          b.transport_faults - a.transport_faults ||
          b.response_errors - a.response_errors ||
          a.method.localeCompare(b.method),
      );
  }

  #count(method: string): void {
    this.totals.requests += 1;
    this.#stats(method).requests += 1;
  }

  #stats(method: string): MethodStats {
    let stats = this.#methods.get(method);
    if (stats === undefined) {
      stats = {
        requests: 0,
        successes: 0,
        response_errors: 0,
        transport_faults: 0,
        retries: 0,
        latencies: [],
        latencyNext: 0,
        latencyCount: 0,
        latencyTotal: 0,
        latencyMax: 0,
        last_error: null,
      };
      this.#methods.set(method, stats);
    }
    return stats;
  }

  #latency(stats: MethodStats, ms: number): void {
    if (stats.latencies.length < RING) stats.latencies.push(ms);
    else stats.latencies[stats.latencyNext] = ms;
    stats.latencyNext = (stats.latencyNext + 1) % RING;
    stats.latencyCount += 1;
    stats.latencyTotal += ms;
    stats.latencyMax = Math.max(stats.latencyMax, ms);
  }
}

function snapshot(method: string, s: MethodStats): MethodSnapshot {
  const sorted = [...s.latencies].sort((a, b) => a - b);
  return {
    method,
    requests: s.requests,
    successes: s.successes,
    response_errors: s.response_errors,
    transport_faults: s.transport_faults,
    retries: s.retries,
    avg_latency_ms: s.latencyCount === 0 ? 0 : round3(s.latencyTotal / s.latencyCount),
    p50_latency_ms: round3(percentile(sorted, 0.5)),
    p95_latency_ms: round3(percentile(sorted, 0.95)),
    max_latency_ms: round3(s.latencyMax),
    last_error: s.last_error,
  };
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? 0;
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/** MCP request methods; anything else a client sends is counted as `other` (bounded labels). */
const PROTOCOL_METHODS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'tools/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'logging/setLevel',
  'completion/complete',
]);

export const protocolMethod = (method: string): string =>
  PROTOCOL_METHODS.has(method) ? method : 'other';
