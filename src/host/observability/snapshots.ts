/** health_snapshot and telemetry_snapshot (SPEC §5.2–5.3): pure functions of a view of the host. */
import type { ContainmentMode } from '../../shared/containment.ts';
import type { FaultRecord } from '../../shared/fault.ts';
import type { CircuitState } from '../consult/breaker.ts';
import { keyValueLines, type ToolOutput } from '../mcp/render.ts';
import type { ClaudeInfo } from '../state/claude-probe.ts';
import type { MethodSnapshot, Totals, Usage } from './telemetry.ts';

export type Lifecycle = 'cold' | 'ready' | 'busy' | 'recovering' | 'degraded' | 'draining';
export type RolloutState = 'stable' | 'pending' | 'rolling' | 'failed';

export type HealthView = {
  readonly state: Lifecycle;
  readonly generation: number;
  readonly uptime_ms: number;
  readonly threads: { readonly live: number; readonly idle: number };
  readonly in_flight: number;
  readonly queued: number;
  readonly max_concurrency: number;
  readonly consecutive_failures: number;
  readonly restart_count: number;
  readonly circuit: { readonly state: CircuitState; readonly retry_after_ms: number };
  readonly rollout: RolloutState;
  readonly host_code_changed: boolean;
  readonly last_fault: FaultRecord | null;
  readonly claude: ClaudeInfo | null;
  /** How CLI process trees are held together; null until probed (SPEC §6.4). */
  readonly containment: { readonly mode: ContainmentMode; readonly reason?: string } | null;
  /** Consult jobs (SPEC §11): this server's queued and running ones, finished ones kept. */
  readonly jobs: { readonly queued: number; readonly running: number; readonly retained: number };
  readonly metrics: string;
  readonly telemetry_log: string;
};

export function lifecycle(facts: {
  draining: boolean;
  circuit: CircuitState;
  recovering: boolean;
  /** Consults cannot start right now (no pool or thread can be built, or a resource is short). */
  poolUnavailable: boolean;
  running: number;
  capacity: number;
  everStarted: boolean;
}): Lifecycle {
  if (facts.draining) return 'draining';
  if (facts.circuit !== 'closed' || facts.poolUnavailable) return 'degraded';
  if (facts.recovering) return 'recovering';
  if (facts.running >= facts.capacity) return 'busy';
  if (!facts.everStarted) return 'cold';
  return 'ready';
}

export function healthOutput(view: HealthView): ToolOutput {
  const full = { ...view } as Record<string, unknown>;
  const concise = {
    state: view.state,
    generation: view.generation,
    threads: view.threads,
    in_flight: view.in_flight,
    queued: view.queued,
    max_concurrency: view.max_concurrency,
    circuit: view.circuit.state,
    rollout: view.rollout,
    last_fault: view.last_fault?.fault.code ?? null,
    claude_version: view.claude?.version ?? null,
  };
  const line = [
    view.state,
    `gen=${view.generation}`,
    `threads=${view.threads.live}/${view.threads.idle}`,
    `in_flight=${view.in_flight}`,
    `queued=${view.queued}`,
    `worker=${view.threads.live > 0 ? 'alive' : 'none'}`,
  ];
  if (view.last_fault !== null) line.push(`last_fault=${view.last_fault.fault.code}`);
  if (view.rollout !== 'stable') line.push(`rollout=${view.rollout}`);
  if (view.circuit.state !== 'closed') line.push(`circuit=${view.circuit.state}`);
  if (view.host_code_changed) line.push('host_code_changed=true');
  // Consults cannot run without the CLI: the one-line view must not look healthy.
  if (view.claude !== null && view.claude.path === null) line.push('claude=missing');
  const claude =
    view.claude === null
      ? 'checking'
      : view.claude.path === null
        ? `not found (${view.claude.reason})`
        : `${view.claude.path} ${view.claude.version ?? `(version unknown: ${view.claude.reason})`}`;
  const porcelainFull = () =>
    [
      line.join(' '),
      ...keyValueLines({
        uptime_ms: view.uptime_ms,
        max_concurrency: view.max_concurrency,
        consecutive_failures: view.consecutive_failures,
        restart_count: view.restart_count,
        circuit: `${view.circuit.state}${view.circuit.retry_after_ms > 0 ? ` retry_after_ms=${view.circuit.retry_after_ms}` : ''}`,
        rollout: view.rollout,
        host_code_changed: view.host_code_changed,
        last_fault:
          view.last_fault === null
            ? 'none'
            : `${view.last_fault.fault.code}: ${view.last_fault.fault.detail}`,
        claude,
        containment:
          view.containment === null
            ? 'checking'
            : `${view.containment.mode}${view.containment.reason === undefined ? '' : ` (${view.containment.reason})`}`,
        metrics: view.metrics,
        telemetry_log: view.telemetry_log,
      }),
    ].join('\n');
  return { concise, full, porcelainConcise: () => line.join(' '), porcelainFull };
}

export type TelemetryView = {
  readonly uptime_ms: number;
  readonly generation: number;
  readonly totals: Totals;
  readonly worker_restarts: number;
  readonly host_rollouts: number;
  readonly consult: Usage;
  readonly methods: readonly MethodSnapshot[];
};

const HOT_METHODS = 6;

export function telemetryOutput(view: TelemetryView): ToolOutput {
  const hot = view.methods.slice(0, HOT_METHODS);
  const concise = {
    ...view.totals,
    worker_restarts: view.worker_restarts,
    host_rollouts: view.host_rollouts,
    consult_cost_usd: view.consult.cost_usd,
    consult_tokens: view.consult.tokens,
    hot_methods: hot.map((m) => ({
      method: m.method,
      requests: m.requests,
      response_errors: m.response_errors,
      transport_faults: m.transport_faults,
      retries: m.retries,
      p50_latency_ms: m.p50_latency_ms,
    })),
  };
  const full = { ...view } as Record<string, unknown>;
  const t = view.totals;
  const header = [
    `requests=${t.requests} success=${t.successes} response_error=${t.response_errors} transport_fault=${t.transport_faults} retry=${t.retries} cancelled=${t.cancellations} timeout=${t.timeouts}`,
    `worker_restarts=${view.worker_restarts} host_rollouts=${view.host_rollouts}`,
    `consult cost=$${view.consult.cost_usd.toFixed(6)}${Object.entries(view.consult.tokens)
      .map(([k, v]) => ` ${k}_tokens=${v}`)
      .join('')}`,
  ];
  const methodLine = (m: MethodSnapshot) =>
    `${m.method} req=${m.requests} err=${m.response_errors} transport=${m.transport_faults} retry=${m.retries} p50=${m.p50_latency_ms}ms p95=${m.p95_latency_ms}ms max=${m.max_latency_ms}ms`;
  const section = (methods: readonly MethodSnapshot[], full: boolean) =>
    methods.length === 0
      ? []
      : [
          'hot methods:',
          ...methods.map((m) =>
            full && m.last_error !== null
              ? `${methodLine(m)} last_error=${JSON.stringify(m.last_error).slice(0, 200)}`
              : methodLine(m),
          ),
        ];
  return {
    concise,
    full,
    porcelainConcise: () => [...header, ...section(hot, false)].join('\n'),
    porcelainFull: () =>
      [
        ...header,
        `uptime_ms=${view.uptime_ms} generation=${view.generation}`,
        ...section(view.methods, true),
      ].join('\n'),
  };
}
