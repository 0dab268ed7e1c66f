/**
 * The Prometheus metrics of SPEC §8 on a private registry (never prom-client's global one),
 * host thread only. Events are recorded as they happen; gauges and the counters the host
 * already keeps (generation, restarts, replays) are read live at scrape time.
 * This module is loaded with a dynamic import only when metrics are enabled: prom-client
 * takes about 120 ms to load.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type MetricSources = {
  readonly version: string;
  readonly inFlight: () => number;
  readonly queued: () => number;
  readonly generation: () => number;
  readonly restarts: () => number;
  readonly replays: () => number;
  /** The Claude CLI's version once probed; null while unknown or when it was not found. */
  readonly claudeVersion: () => string | null;
  /** Jobs by status: this server's queued and running ones, and the finished ones kept. */
  readonly jobs: () => Readonly<Record<string, number>>;
};

export type HostMetrics = {
  readonly contentType: string;
  render(): Promise<string>;
  /** A request answered: tool calls by operation (`tools/call:consult`), others by method. */
  request(method: string, outcome: string, latencyMs: number): void;
  consultUsage(
    model: string | null,
    costUsd: number | null,
    tokens: Readonly<Record<string, number>>,
  ): void;
  childKilled(reason: string): void;
};

/** Sub-second protocol requests up to the 30-minute consult ceiling. */
export const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800,
];

export function createMetrics(sources: MetricSources): HostMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new Counter({
    name: 'phone_opus_requests_total',
    help: 'Requests answered, by method (tool calls as tools/call:<tool>) and outcome.',
    labelNames: ['method', 'outcome'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'phone_opus_request_duration_seconds',
    help: 'Time from request to response, by method.',
    labelNames: ['method'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const cost = new Counter({
    name: 'phone_opus_consult_cost_usd_total',
    help: 'Cost of successful consults as reported by Claude Code, in US dollars.',
    labelNames: ['model'] as const,
    registers,
  });
  const tokens = new Counter({
    name: 'phone_opus_tokens_total',
    help: 'Tokens used by successful consults, by model and type.',
    labelNames: ['model', 'type'] as const,
    registers,
  });
  const kills = new Counter({
    name: 'phone_opus_child_kills_total',
    help: 'Claude CLI process groups killed by phone-opus, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  new Gauge({
    name: 'phone_opus_in_flight',
    help: 'Consults running now.',
    registers,
    collect() {
      this.set(sources.inFlight());
    },
  });
  new Gauge({
    name: 'phone_opus_queue_depth',
    help: 'Consults waiting for a slot.',
    registers,
    collect() {
      this.set(sources.queued());
    },
  });
  new Gauge({
    name: 'phone_opus_jobs',
    help: 'Consult jobs by status: queued and running on this server, and finished ones retained in the state dir.',
    labelNames: ['status'],
    registers,
    collect() {
      this.reset();
      for (const [status, count] of Object.entries(sources.jobs())) this.set({ status }, count);
    },
  });
  new Gauge({
    name: 'phone_opus_worker_generation',
    help: 'Worker generation: starts at 1, +1 per lost worker thread or pool rollout.',
    registers,
    collect() {
      this.set(sources.generation());
    },
  });
  new Counter({
    name: 'phone_opus_worker_restarts_total',
    help: 'Worker threads lost and replaced.',
    registers,
    collect() {
      this.reset();
      this.inc(sources.restarts());
    },
  });
  new Counter({
    name: 'phone_opus_replays_total',
    help: 'Consults dispatched again after their worker thread was lost (convergent contract).',
    registers,
    collect() {
      this.reset();
      this.inc(sources.replays());
    },
  });
  new Gauge({
    name: 'phone_opus_build_info',
    help: 'Always 1; labels carry the phone-opus and Claude CLI versions.',
    labelNames: ['version', 'claude_version'] as const,
    registers,
    collect() {
      this.reset();
      this.set(
        { version: sources.version, claude_version: shortVersion(sources.claudeVersion()) },
        1,
      );
    },
  });

  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    request(method, outcome, latencyMs) {
      requests.inc({ method, outcome });
      duration.observe({ method }, latencyMs / 1000);
    },
    consultUsage(model, costUsd, counts) {
      const name = model ?? 'unknown';
      if (costUsd !== null && costUsd > 0) cost.inc({ model: name }, costUsd);
      for (const [type, count] of Object.entries(counts)) {
        if (count > 0) tokens.inc({ model: name, type }, count);
      }
    },
    childKilled(reason) {
      kills.inc({ reason });
    },
  };
}

/** `2.1.197 (Claude Code)` → `2.1.197`; anything unparseable is kept as it is. */
export function shortVersion(version: string | null): string {
  if (version === null) return 'unknown';
  return /^v?(\d+\.\d+\.\d+[\w.+-]*)/.exec(version.trim())?.[1] ?? version.trim();
}
