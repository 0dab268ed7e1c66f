/**
 * Owns the optional metrics endpoint's lifecycle: loads prom-client and the HTTP server with a
 * dynamic import only when `PHONE_OPUS_METRICS_PORT` is set (and off the path to
 * `initialize`), writes and removes the `file_sd` discovery file, and buffers the few events
 * that happen before the endpoint is up so that no count is lost.
 */
import { readStat } from '../../shared/proc-scan.ts';
import { tokenCounts } from '../../shared/usage.ts';
import type { Logger } from '../log.ts';
import { removeDiscoveryFile, writeDiscoveryFile } from './discovery.ts';
import type { HostMetrics, MetricSources } from './metrics.ts';
import type { MetricsEndpoint, startMetricsServer } from './metrics-server.ts';

export type MetricsControllerOptions = {
  /** undefined = metrics off. */
  readonly port: number | undefined;
  readonly host: string;
  readonly stateDir: string;
  readonly cwd: string;
  readonly pid: number;
  readonly log: Logger;
};

/** What the endpoint reads at scrape time (known once the server is assembled). */
export type MetricsView = {
  readonly sources: MetricSources;
  /** The health snapshot (the object health_snapshot returns with render=json detail=full). */
  readonly health: () => unknown;
};

type Event = (metrics: HostMetrics) => void;

/** Events kept while prom-client loads; far more than can happen in that time. */
const MAX_PENDING = 10_000;

export class MetricsController {
  readonly #options: MetricsControllerOptions;
  #status: string;
  #starting: Promise<void> | undefined;
  #endpoint: MetricsEndpoint | undefined;
  #discoveryFile: string | undefined;
  #pending: Event[] | undefined;
  #closed = false;

  constructor(options: MetricsControllerOptions) {
    this.#options = options;
    this.#status = options.port === undefined ? 'off' : 'starting';
    this.#pending = options.port === undefined ? undefined : [];
  }

  /** `off`, `starting`, the endpoint's URL, or `error: …` saying why it is not served. */
  get status(): string {
    return this.#status;
  }

  /** Bind the endpoint (idempotent); resolves when it is up or has failed. */
  start(view: MetricsView): Promise<void> {
    if (this.#options.port === undefined || this.#closed) return Promise.resolve();
    this.#starting ??= this.#start(this.#options.port, view);
    return this.#starting;
  }

  request(method: string, outcome: string, latencyMs: number): void {
    this.#record((m) => m.request(method, outcome, latencyMs));
  }

  consultUsage(model: string | null, costUsd: number | null, usage: unknown): void {
    const tokens = tokenCounts(usage);
    this.#record((m) => m.consultUsage(model, costUsd, tokens));
  }

  childKilled(reason: string): void {
    this.#record((m) => m.childKilled(reason));
  }

  /** Stop serving and remove the discovery file (shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    this.removeDiscoverySync();
    await this.#starting?.catch(() => {});
    this.removeDiscoverySync();
    const endpoint = this.#endpoint;
    this.#endpoint = undefined;
    if (endpoint !== undefined) await endpoint.close();
  }

  /** Last resort from `process.on('exit')`: synchronous, never throws. */
  removeDiscoverySync(): void {
    if (this.#discoveryFile === undefined) return;
    removeDiscoveryFile(this.#discoveryFile);
    this.#discoveryFile = undefined;
  }

  #record(event: Event): void {
    if (this.#endpoint !== undefined) event(this.#endpoint.metrics);
    else if (this.#pending !== undefined && this.#pending.length < MAX_PENDING)
      this.#pending.push(event);
  }

  async #start(port: number, view: MetricsView): Promise<void> {
    const { host, log } = this.#options;
    let started: Awaited<ReturnType<typeof startMetricsServer>>;
    try {
      const server = await import('./metrics-server.ts');
      started = await server.startMetricsServer({
        host,
        port,
        sources: view.sources,
        health: view.health,
      });
    } catch (error) {
      started = { ok: false, error: `cannot start: ${(error as Error).message}` };
    }
    if (!started.ok) {
      this.#pending = undefined;
      this.#status = `error: ${started.error}`;
      log(
        `metrics disabled: ${started.error}; MCP keeps serving (set PHONE_OPUS_METRICS_PORT to a free port, or 0 for any)`,
      );
      return;
    }
    const endpoint = started.endpoint;
    if (this.#closed) {
      await endpoint.close();
      return;
    }
    this.#endpoint = endpoint;
    for (const event of this.#pending ?? []) event(endpoint.metrics);
    this.#pending = undefined;
    this.#status = endpoint.url;
    this.#writeDiscovery(endpoint);
  }

  #writeDiscovery(endpoint: MetricsEndpoint): void {
    const { stateDir, pid, cwd, log } = this.#options;
    try {
      this.#discoveryFile = writeDiscoveryFile(stateDir, {
        host: endpoint.host,
        port: endpoint.port,
        pid,
        start: readStat(String(pid))?.start ?? '',
        cwd,
      });
    } catch (error) {
      log(
        `metrics on ${endpoint.url}, but the Prometheus discovery file could not be written: ${(error as Error).message}`,
      );
    }
  }
}
