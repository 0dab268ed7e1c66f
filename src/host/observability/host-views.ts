/**
 * The views behind health_snapshot, telemetry_snapshot, `/healthz` and the metrics' gauges,
 * read from the parts of the host at the moment they are asked for.
 */
import type { Config } from '../../shared/config.ts';
import { describeContainment } from '../../shared/containment.ts';
import type { Clock } from '../clock.ts';
import type { Admission } from '../consult/admission.ts';
import type { Supervisor } from '../consult/supervisor.ts';
import type { JobService } from '../jobs/job-service.ts';
import type { PoolManager } from '../pool/pool-manager.ts';
import type { Environment } from '../state/environment.ts';
import type { JsonlWriter } from './jsonl-writer.ts';
import type { MetricSources } from './metrics.ts';
import type { MetricsController } from './metrics-controller.ts';
import { type HealthView, lifecycle, type TelemetryView } from './snapshots.ts';
import type { Telemetry } from './telemetry.ts';

export type HostParts = {
  readonly config: Config;
  readonly version: string;
  readonly clock: Clock;
  readonly startedAt: number;
  readonly supervisor: Supervisor;
  readonly admission: Admission;
  readonly pools: PoolManager;
  readonly environment: Environment;
  readonly telemetry: Telemetry;
  readonly metrics: MetricsController;
  readonly callLog: JsonlWriter;
  readonly jobs: JobService;
  /** Set once shutdown has begun. */
  readonly draining: () => boolean;
};

export class HostViews {
  readonly #p: HostParts;

  constructor(parts: HostParts) {
    this.#p = parts;
  }

  health(): HealthView {
    const { config, clock, supervisor, admission, pools, environment } = this.#p;
    const now = clock.monotonicMs();
    const circuit = supervisor.breaker.state(now);
    const containment = environment.knownContainment;
    return {
      state: lifecycle({
        draining: this.#p.draining(),
        circuit,
        recovering: supervisor.recovering,
        poolUnavailable: pools.unavailable !== undefined || supervisor.starved,
        running: admission.running,
        capacity: admission.capacity,
        everStarted: pools.started,
      }),
      generation: supervisor.generation,
      uptime_ms: Math.round(now - this.#p.startedAt),
      threads: pools.threads,
      in_flight: admission.running,
      queued: admission.queued,
      max_concurrency: config.maxConcurrency,
      consecutive_failures: supervisor.consecutiveFailures,
      restart_count: supervisor.restartCount,
      circuit: { state: circuit, retry_after_ms: Math.round(supervisor.breaker.retryAfterMs(now)) },
      rollout: pools.state,
      host_code_changed: pools.hostCodeChanged,
      last_fault: supervisor.lastFault,
      claude: environment.claude,
      containment: containment === null ? null : describeContainment(containment),
      jobs: (({ queued, running, retained }) => ({ queued, running, retained }))(
        this.#p.jobs.counts(),
      ),
      metrics: this.#p.metrics.status,
      telemetry_log: this.#p.callLog.status,
    };
  }

  telemetry(): TelemetryView {
    const { clock, supervisor, telemetry } = this.#p;
    return {
      uptime_ms: Math.round(clock.monotonicMs() - this.#p.startedAt),
      generation: supervisor.generation,
      totals: { ...telemetry.totals },
      worker_restarts: supervisor.restartCount,
      host_rollouts: supervisor.rollouts,
      consult: telemetry.usage(),
      methods: telemetry.methods(),
    };
  }

  /** What the Prometheus gauges read at scrape time. */
  metricSources(): MetricSources {
    const { admission, supervisor, telemetry, environment } = this.#p;
    return {
      version: this.#p.version,
      inFlight: () => admission.running,
      queued: () => admission.queued,
      generation: () => supervisor.generation,
      restarts: () => supervisor.restartCount,
      replays: () => telemetry.totals.retries,
      claudeVersion: () => environment.claude?.version ?? null,
      jobs: () => {
        const counts = this.#p.jobs.counts();
        return { queued: counts.queued, running: counts.running, ...counts.byStatus };
      },
    };
  }
}
