/**
 * The one place a completed call is recorded (SPEC §8): once per call, fanned out to the
 * counters of telemetry_snapshot, the JSONL log and the Prometheus metrics. Tool calls come
 * from the dispatcher; other requests (ping, initialize, tools/list, …) from the transport.
 */
import type { FaultRecord } from '../../shared/fault.ts';
import type { Clock } from '../clock.ts';
import type { JsonlWriter } from './jsonl-writer.ts';
import type { MetricsController } from './metrics-controller.ts';
import { type CallOutcome, protocolMethod, type Telemetry } from './telemetry.ts';
import { telemetryLine } from './telemetry-log.ts';

/** Everything known about a finished tool call (the JSONL log's record, SPEC §8). */
export type CallRecord = {
  readonly request_id: string | number;
  readonly operation: string;
  readonly tool: string;
  readonly outcome: CallOutcome;
  readonly latency_ms: number;
  readonly generation: number;
  readonly attempts: number;
  readonly fault: FaultRecord | undefined;
  readonly consult?: {
    readonly prompt: string;
    readonly cwd: string | null;
    readonly model: string | null;
    readonly cost_usd: number | null;
    readonly usage: unknown;
    readonly session_id: string | null;
  };
};

export type RecorderOptions = {
  readonly telemetry: Telemetry;
  readonly callLog: JsonlWriter;
  readonly metrics: MetricsController;
  readonly clock: Clock;
  readonly logPrompts: boolean;
  /** After each record (the forced-rollout test hook watches completions). */
  readonly onRecorded?: (operation: string) => void;
};

export class Recorder {
  readonly #o: RecorderOptions;

  constructor(options: RecorderOptions) {
    this.#o = options;
  }

  /** A tool call ended (answered, failed or cancelled). */
  call(record: CallRecord): void {
    const { telemetry, callLog, metrics, clock } = this.#o;
    telemetry.complete(record.operation, record.outcome, record.latency_ms, record.fault);
    // A replay is one more dispatch of the same call (SPEC §6.3).
    for (let n = 1; n < record.attempts; n++) telemetry.retry(record.operation);
    const consult = record.consult;
    if (consult !== undefined && record.outcome === 'ok') {
      telemetry.addUsage(consult.model, consult.cost_usd, consult.usage);
      metrics.consultUsage(consult.model, consult.cost_usd, consult.usage);
    }
    callLog.write(telemetryLine(record, { nowMs: clock.nowMs(), logPrompts: this.#o.logPrompts }));
    metrics.request(record.operation, record.outcome, record.latency_ms);
    this.#o.onRecorded?.(record.operation);
  }

  /** Any other request was answered. */
  protocol(method: string, latencyMs: number, error: boolean): void {
    this.#o.telemetry.completeProtocol(method, latencyMs, error);
    this.#o.metrics.request(protocolMethod(method), error ? 'error' : 'ok', latencyMs);
    this.#o.onRecorded?.(method);
  }
}
