/**
 * The one place a completed call is recorded (SPEC §8): once per call, fanned out to the
 * counters of telemetry_snapshot, the JSONL log and the Prometheus metrics. Tool calls come
 * from the dispatcher; other requests (ping, initialize, tools/list, …) from the transport.
 */
import type { FaultRecord } from '../../shared/fault.ts';
import type { Clock } from '../clock.ts';
import type { JobRecord } from '../jobs/job-record.ts';
import type { JsonlWriter } from './jsonl-writer.ts';
import type { MetricsController } from './metrics-controller.ts';
import { type CallOutcome, protocolMethod, type Telemetry } from './telemetry.ts';
import { type ConsultFacts, consultFactsOf, telemetryLine } from './telemetry-log.ts';

/** Everything known about a finished tool call (the JSONL log's record, SPEC §8). */
export type CallRecord = {
  readonly request_id: string | number | null;
  /** The consult job the call started, joined or read. */
  readonly job_id?: string;
  readonly operation: string;
  readonly tool: string;
  readonly outcome: CallOutcome;
  readonly latency_ms: number;
  readonly generation: number;
  readonly attempts: number;
  readonly fault: FaultRecord | undefined;
  /** Only on the one record that reports a job's end (see telemetry-log.ts). */
  readonly consult?: ConsultFacts;
};

export type RecorderOptions = {
  readonly telemetry: Telemetry;
  readonly callLog: JsonlWriter;
  readonly metrics: MetricsController;
  readonly clock: Clock;
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
    this.#usage(record);
    callLog.write(telemetryLine(record, clock.nowMs()));
    metrics.request(record.operation, record.outcome, record.latency_ms);
    this.#o.onRecorded?.(record.operation);
  }

  /** A job ended that no call reported: its own record, and its cost and tokens. */
  jobEnded(job: JobRecord): void {
    const outcome = job.outcome;
    const fault = outcome?.kind === 'fault' ? outcome.fault : undefined;
    const record: CallRecord = {
      request_id: null,
      job_id: job.job_id,
      operation: 'job:consult',
      tool: 'consult',
      outcome:
        fault === undefined
          ? 'ok'
          : fault.fault.code === 'cancelled'
            ? 'cancelled'
            : fault.fault.code === 'timeout'
              ? 'timeout'
              : 'error',
      latency_ms: job.progress.elapsed_ms,
      generation:
        outcome === null
          ? 1
          : outcome.kind === 'ok'
            ? outcome.generation
            : outcome.fault.fault.generation,
      attempts: outcome?.attempts ?? 0,
      fault,
      consult: consultFactsOf(job),
    };
    this.#usage(record);
    this.#o.callLog.write(telemetryLine(record, this.#o.clock.nowMs()));
  }

  #usage(record: CallRecord): void {
    const consult = record.consult;
    if (consult === undefined || record.outcome !== 'ok') return;
    this.#o.telemetry.addUsage(consult.model, consult.cost_usd, consult.usage);
    this.#o.metrics.consultUsage(consult.model, consult.cost_usd, consult.usage);
  }

  /** Any other request was answered. */
  protocol(method: string, latencyMs: number, error: boolean): void {
    this.#o.telemetry.completeProtocol(method, latencyMs, error);
    this.#o.metrics.request(protocolMethod(method), error ? 'error' : 'ok', latencyMs);
    this.#o.onRecorded?.(method);
  }
}
