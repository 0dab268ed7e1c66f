/**
 * A job this server runs: its record (saved at admission, when the session is known and at the
 * end; other changes at most once a second), the abort that stops its consult, and the calls
 * waiting on it — each gets the consult's progress, from where it stands, and a wake-up when
 * it ends.
 */

import type { ProgressEvent } from '../../shared/wire.ts';
import type { ProgressSink } from '../consult/progress.ts';
import type { JobOutcome, JobRecord, JobStatus } from './job-record.ts';

/** Progress is saved at most this often (the status, the session and the end at once). */
const PROGRESS_SAVE_MS = 1000;

export class LiveJob implements ProgressSink {
  #record: JobRecord;
  readonly #save: (record: JobRecord) => boolean;
  /** Whether the last save reached the disk. */
  saved = false;
  readonly #nowMs: () => number;
  readonly #startedAt: number;
  readonly abort = new AbortController();
  readonly #sinks = new Set<ProgressSink>();
  readonly #ended = new Set<() => void>();
  #lastSession: ProgressEvent | undefined;
  #lastTurn: ProgressEvent | undefined;
  #savedAt: number;
  /** A change not yet saved is saved this soon. */
  #trailing: NodeJS.Timeout | undefined;
  /** The call that started the job waits for it (its record then carries the consult's facts). */
  starterWaiting = true;

  constructor(record: JobRecord, save: (record: JobRecord) => boolean, nowMs: () => number) {
    this.#record = record;
    this.#save = save;
    this.#nowMs = nowMs;
    this.#startedAt = nowMs();
    this.#savedAt = this.#startedAt;
    this.saved = save(record);
  }

  get record(): JobRecord {
    return this.#record;
  }

  get id(): string {
    return this.#record.job_id;
  }

  /** Follow the consult's progress (from its current state) until the job ends. */
  follow(sink: ProgressSink, onEnd: () => void): () => void {
    if (this.#record.status === 'running') sink.started(1);
    if (this.#lastSession !== undefined) sink.event(this.#lastSession);
    if (this.#lastTurn !== undefined) sink.event(this.#lastTurn);
    this.#sinks.add(sink);
    this.#ended.add(onEnd);
    return () => {
      this.#sinks.delete(sink);
      this.#ended.delete(onEnd);
    };
  }

  /** Be woken when the job ends (without progress). */
  onEnd(onEnd: () => void): () => void {
    this.#ended.add(onEnd);
    return () => this.#ended.delete(onEnd);
  }

  started(attempt: number): void {
    // Saved with the session, which follows at once (or within a second anyway).
    if (this.#record.status === 'queued') this.#update({ status: 'running' }, false);
    for (const sink of this.#sinks) sink.started(attempt);
  }

  event(event: ProgressEvent): void {
    if (event.kind === 'session') {
      this.#lastSession = event;
      this.#update({ session_id: event.session_id }, true);
    } else {
      this.#lastTurn = event;
      const tool = event.tools.at(-1) ?? this.#record.progress.last_tool;
      this.#update(
        { progress: { turns: event.turn, last_tool: tool, elapsed_ms: this.#elapsedMs() } },
        false,
      );
    }
    for (const sink of this.#sinks) sink.event(event);
  }

  #elapsedMs(): number {
    return Math.round(this.#nowMs() - this.#startedAt);
  }

  /** The consult ended: the record becomes terminal and every waiter is woken. */
  end(status: JobStatus, outcome: JobOutcome, sessionId: string | null): void {
    this.#update(
      {
        status,
        outcome,
        session_id: sessionId ?? this.#record.session_id,
        ended_at: new Date(this.#nowMs()).toISOString(),
        progress: { ...this.#record.progress, elapsed_ms: this.#elapsedMs() },
      },
      true,
    );
    for (const wake of [...this.#ended]) wake();
    this.#sinks.clear();
    this.#ended.clear();
  }

  #update(change: Partial<JobRecord>, now: boolean): void {
    this.#record = {
      ...this.#record,
      ...change,
      updated_at: new Date(this.#nowMs()).toISOString(),
    };
    const t = this.#nowMs();
    if (now || t - this.#savedAt >= PROGRESS_SAVE_MS) this.#flush(t);
    else this.#trailing ??= setTimeout(() => this.#flush(this.#nowMs()), PROGRESS_SAVE_MS).unref();
  }

  #flush(t: number): void {
    if (this.#trailing !== undefined) clearTimeout(this.#trailing);
    this.#trailing = undefined;
    this.#savedAt = t;
    this.saved = this.#save(this.#record);
  }
}
