/**
 * Durable consults (SPEC §11): every consult is a job, recorded in the state dir from
 * admission to end, that outlives the call that started it. A call may return while the job
 * runs on; `consult_result` (from any server sharing the state dir) waits for it; a retry
 * with the same request key joins it instead of paying twice; a job whose server died is
 * marked interrupted, never re-run; finished jobs are kept for their retention, then pruned.
 */
import { createFault } from '../../shared/fault.ts';
import type { Clock } from '../clock.ts';
import type { ConsultService } from '../consult/consult-service.ts';
import { type ConsultOutcome, consultSite } from '../consult/outcome-faults.ts';
import type { ProgressSink } from '../consult/progress.ts';
import type { Recorder } from '../observability/recorder.ts';
import type { SessionStore } from '../state/session-store.ts';
import { isActive, type JobRecord, type JobStatus, statusOf } from './job-record.ts';
import type { JobStore } from './job-store.ts';
import {
  interruptedRecord,
  isExpired,
  type JobSpec,
  jobOutcome,
  queuedRecord,
} from './job-transitions.ts';
import { untilEnded } from './job-wait.ts';
import { LiveJob } from './live-job.ts';

export type Submitted =
  | { readonly kind: 'started'; readonly job: LiveJob }
  | { readonly kind: 'joined'; readonly jobId: string }
  | { readonly kind: 'conflict'; readonly jobId: string };

export type JobCounts = {
  readonly queued: number;
  readonly running: number;
  readonly retained: number;
  /** Finished jobs kept, by status (for the metrics). */
  readonly byStatus: Readonly<Record<string, number>>;
};

export type JobServiceDeps = {
  readonly store: JobStore;
  readonly consults: ConsultService;
  readonly recorder: Recorder;
  readonly sessions: SessionStore;
  readonly clock: Clock;
  readonly owner: { readonly pid: number; readonly start: string };
  readonly generation: () => number;
  readonly logPrompts: boolean;
  readonly retentionMs: number;
  /** At most this many finished jobs are kept (the oldest go first). */
  readonly maxJobs: number;
};

/** While the server has jobs, it re-checks their cancel markers this often (a lost event). */
const RECHECK_MS = 1000;
/** How long a cancel waits for the job to end before answering with its state. */
const CANCEL_WAIT_MS = 3000;
const SWEEP_EVERY_MS = 10 * 60 * 1000;
const RECENT_JOBS = 200;

export class JobService {
  readonly #d: JobServiceDeps;
  readonly #live = new Map<string, LiveJob>();
  /** This server's finished jobs whose record could not be saved: still readable here. */
  readonly #recent = new Map<string, JobRecord>();
  #retained = new Map<string, JobStatus>();
  #unwatchCancels: (() => void) | undefined;
  #cancelCheck: NodeJS.Timeout | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #shuttingDown = false;

  constructor(deps: JobServiceDeps) {
    this.#d = deps;
  }

  /** Start a consult as a job, or join the one its request key names. */
  submit(spec: JobSpec): Submitted {
    const record = queuedRecord(spec, {
      owner: this.#d.owner,
      nowMs: this.#d.clock.nowMs(),
      logPrompts: this.#d.logPrompts,
      retentionMs: this.#d.retentionMs,
    });
    // Written before the key is claimed: whoever finds the key taken also finds its job.
    const job = new LiveJob(record, (r) => this.#d.store.write(r), this.#d.clock.nowMs);
    // A key whose job has just expired is released on the way (get), and claimed again.
    for (let tries = 0; spec.key !== null && tries < 2; tries++) {
      const claim = this.#d.store.claimKey(spec.key, record.job_id);
      if (claim.kind === 'claimed') break;
      const holder = this.get(claim.jobId);
      if (holder === undefined && tries === 0) continue;
      this.#d.store.remove({ ...record, request_key: null });
      return holder === undefined || holder.fingerprint === spec.fingerprint
        ? { kind: 'joined', jobId: claim.jobId }
        : { kind: 'conflict', jobId: claim.jobId };
    }
    this.#live.set(job.id, job);
    this.#watchCancels();
    void this.#run(job, spec);
    return { kind: 'started', job };
  }

  /** The job (this server's, or any other's from disk), or undefined if unknown or pruned. */
  get(jobId: string): JobRecord | undefined {
    const live = this.#live.get(jobId);
    if (live !== undefined) return live.record;
    return this.#current(this.#d.store.read(jobId) ?? this.#recent.get(jobId));
  }

  /** A job as read, brought up to date: an orphan is interrupted, an expired job is gone. */
  #current(record: JobRecord | undefined): JobRecord | undefined {
    if (record === undefined) return undefined;
    const live = this.#live.get(record.job_id);
    if (live !== undefined) return live.record;
    if (this.#d.store.orphaned(record)) return this.#interrupt(record);
    // Past its retention (or its task's TTL) a job is gone, sweep or not.
    if (isExpired(record, this.#d.clock.nowMs())) {
      this.#forget(record);
      return undefined;
    }
    return record;
  }

  #forget(record: JobRecord): void {
    this.#d.store.remove(record);
    this.#recent.delete(record.job_id);
    this.#retained.delete(record.job_id);
  }

  /**
   * Wait until the job ends, `waitMs` passes or `signal` aborts; resolves with the job as it
   * then is (undefined if unknown). `progress` follows the consult meanwhile (own jobs).
   */
  async wait(
    jobId: string,
    waitMs: number,
    options: { signal?: AbortSignal; progress?: ProgressSink } = {},
  ): Promise<JobRecord | undefined> {
    const first = this.get(jobId);
    if (first === undefined || !isActive(first.status) || waitMs <= 0) return first;
    const live = this.#live.get(jobId);
    // Another server's job, as last read: once it shows the end, it is the answer (the file
    // holds the whole result; no need to read it twice).
    let seen: { record: JobRecord | undefined } | undefined;
    await untilEnded({
      waitMs,
      signal: options.signal,
      live,
      progress: options.progress,
      watch: (onChange) => this.#d.store.watch(onChange),
      jobId,
      ended: () => {
        const record = this.get(jobId);
        const ended = record === undefined || !isActive(record.status);
        if (ended) seen = { record };
        return ended;
      },
    });
    // One of ours: its record is at hand (no need to read back what was just written).
    return live?.record ?? (seen === undefined ? this.get(jobId) : seen.record);
  }

  /**
   * Stop a job (this server's at once; another's through its owner) and wait, briefly, for it
   * to end. A finished job is left as it is. Undefined if the job is unknown.
   */
  async cancel(jobId: string): Promise<JobRecord | undefined> {
    const record = this.get(jobId);
    if (record === undefined || !isActive(record.status)) return record;
    const live = this.#live.get(jobId);
    if (live !== undefined) live.abort.abort();
    else this.#d.store.requestCancel(jobId);
    return this.wait(jobId, CANCEL_WAIT_MS);
  }

  /** Every retained job, newest first (MCP tasks/list). */
  list(): JobRecord[] {
    return this.#d.store.list().flatMap((record) => this.#current(record) ?? []);
  }

  counts(): JobCounts {
    let queued = 0;
    let running = 0;
    for (const job of this.#live.values()) {
      if (job.record.status === 'queued') queued += 1;
      else if (job.record.status === 'running') running += 1;
    }
    const byStatus: Record<string, number> = {};
    for (const status of this.#retained.values()) byStatus[status] = (byStatus[status] ?? 0) + 1;
    return { queued, running, retained: this.#retained.size, byStatus };
  }

  /** Prune expired jobs, mark orphans interrupted; then again every few minutes. */
  startSweeping(): void {
    this.#sweep();
    this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_EVERY_MS);
    this.#sweeper.unref();
  }

  #sweep(): void {
    const finished: JobRecord[] = [];
    // Orphans are marked interrupted, expired jobs removed, on the way.
    for (const record of this.list()) if (!isActive(record.status)) finished.push(record);
    // Newest first: past the cap, the oldest go.
    for (const record of finished.slice(this.#d.maxJobs)) this.#forget(record);
    this.#retained = new Map(
      finished.slice(0, this.#d.maxJobs).map((record) => [record.job_id, record.status]),
    );
  }

  /** The server is going away: the jobs it stops now end as interrupted. */
  beginShutdown(): void {
    this.#shuttingDown = true;
  }

  close(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#stopCheckingCancels();
    this.#unwatchCancels?.();
    this.#unwatchCancels = undefined;
  }

  async #run(job: LiveJob, spec: JobSpec): Promise<void> {
    let outcome: ConsultOutcome;
    try {
      outcome = await this.#d.consults.run({
        request: spec.request,
        timeoutMs: spec.timeoutMs,
        signal: job.abort.signal,
        progress: job,
      });
    } catch (error) {
      const message = `internal error: ${(error as Error).message}`;
      const fault = createFault('internal_failure', this.#site(), message);
      outcome = { kind: 'fault', fault, attempts: 0 };
    }
    const ended = jobOutcome(outcome, this.#site());
    const sessionId =
      ended.kind === 'ok' ? ended.value.session_id : (ended.fault.hint?.session_id ?? null);
    // Where the CLI really ran is where a resume must run too.
    const cwd = ended.kind === 'ok' ? ended.value.cwd : spec.request.cwd;
    if (sessionId !== null) this.#d.sessions.remember(sessionId, cwd);
    // Stopped because this server is going away: interrupted, like a job whose server died.
    const stoppedByShutdown =
      this.#shuttingDown &&
      ended.kind === 'fault' &&
      ended.fault.fault.code === 'transport_failure';
    job.end(stoppedByShutdown ? 'interrupted' : statusOf(ended), ended, sessionId);
    if (!job.saved) {
      this.#recent.set(job.id, job.record);
      if (this.#recent.size > RECENT_JOBS)
        this.#recent.delete(this.#recent.keys().next().value ?? '');
    }
    this.#live.delete(job.id);
    this.#retained.set(job.id, job.record.status);
    if (this.#live.size === 0) this.#stopCheckingCancels();
    // A job its starting call still waits for is recorded with that call (its consult facts).
    if (!job.starterWaiting) this.#d.recorder.jobEnded(job.record);
  }

  /** A job whose server is gone: never re-run, its session named so it can be resumed. */
  #interrupt(record: JobRecord): JobRecord {
    const interrupted = interruptedRecord(record, this.#site(), this.#d.clock.nowMs());
    this.#d.store.write(interrupted);
    this.#retained.set(record.job_id, 'interrupted');
    this.#d.recorder.jobEnded(interrupted);
    return interrupted;
  }

  #site() {
    return consultSite(this.#d.generation(), 'host');
  }

  /**
   * Another server may ask to stop one of ours (a `cancel/<job_id>` marker): heed it at once.
   * The watch stays once set up (an idle watch costs nothing); the re-check that covers a lost
   * event or a missing inotify runs only while this server has jobs.
   */
  #watchCancels(): void {
    const heed = (jobId: string) => {
      const live = this.#live.get(jobId);
      if (live !== undefined && this.#d.store.cancelRequested(jobId)) live.abort.abort();
    };
    this.#unwatchCancels ??= this.#d.store.watchCancels(heed);
    if (this.#cancelCheck !== undefined) return;
    this.#cancelCheck = setInterval(() => {
      for (const jobId of this.#live.keys()) heed(jobId);
    }, RECHECK_MS);
    this.#cancelCheck.unref();
  }

  #stopCheckingCancels(): void {
    if (this.#cancelCheck !== undefined) clearInterval(this.#cancelCheck);
    this.#cancelCheck = undefined;
  }
}
