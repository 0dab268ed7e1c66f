/**
 * The consult tools (SPEC §5.1, §11): `consult` starts a job (or joins the one its request key
 * names) and waits for it up to `wait_s`; `consult_result` waits for a job's answer; and
 * `consult_cancel` stops one. A cancel of the call that started a job stops the job too
 * (SPEC §4); a call that only joined or polled a job just stops waiting.
 */
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import type { Catalog } from '../../shared/catalog.ts';
import { describeIssues } from '../../shared/catalog.ts';
import type { Config } from '../../shared/config.ts';
import { createFault, type Site } from '../../shared/fault.ts';
import { RESULT_WAIT_DEFAULT_S } from '../../shared/tool-schemas.ts';
import type { ConsultRequest } from '../../shared/wire.ts';
import type { Clock } from '../clock.ts';
import { resolveConsult } from '../consult/consult-input.ts';
import { cancelResult, pendingResult, terminalResult } from '../consult/job-output.ts';
import { ProgressReporter } from '../consult/progress.ts';
import { isActive, type JobRecord } from '../jobs/job-record.ts';
import type { JobService } from '../jobs/job-service.ts';
import { consultFactsOf } from '../observability/telemetry-log.ts';
import type { SessionStore } from '../state/session-store.ts';
import type { Answer, CallContext, Handler } from './dispatch.ts';
import { faultResult, type Presentation, presentationOf } from './render.ts';

export type ConsultToolsDeps = {
  readonly catalog: Catalog;
  readonly config: Config;
  readonly jobs: JobService;
  readonly sessions: SessionStore;
  readonly clock: Clock;
  readonly serverCwd: string;
};

/** A consult that waits "until the end" still has a bound: its deadline, and some margin. */
const UNTIL_THE_END_MARGIN_MS = 60_000;

export function consultTools(deps: ConsultToolsDeps) {
  const { catalog, jobs, clock } = deps;
  let inArrivalOrder: Promise<unknown> = Promise.resolve();

  const invalid = (site: Site, detail: string): Answer => {
    const fault = createFault('invalid_input', site, detail);
    return { result: faultResult(fault), outcome: 'error', fault, attempts: 0 };
  };
  const reporter = (ctx: CallContext) =>
    ctx.progressToken === undefined
      ? undefined
      : new ProgressReporter(
          ctx.progressToken,
          ctx.sendProgress,
          deps.config.progressIntervalMs,
          clock.monotonicMs,
        );
  const elapsed = (job: JobRecord) =>
    Math.max(0, Math.round(clock.nowMs() - Date.parse(job.created_at)));
  const unknownJob = (site: Site, jobId: string) =>
    invalid(
      site,
      `job_id: ${jobId} is unknown, or expired (finished jobs are kept ${deps.config.jobRetentionS} s, PHONE_OPUS_JOB_RETENTION_S)`,
    );

  /** What a call answers once it stops waiting on a job. */
  const answer = (job: JobRecord, presentation: Presentation, reports: boolean): Answer => {
    if (isActive(job.status)) {
      return {
        result: pendingResult(job, elapsed(job), presentation),
        outcome: 'ok',
        attempts: 0,
        job_id: job.job_id,
      };
    }
    const outcome = job.outcome;
    const fault = outcome?.kind === 'fault' ? outcome.fault : undefined;
    return {
      result: terminalResult(job, presentation),
      outcome: fault === undefined ? 'ok' : fault.fault.code === 'timeout' ? 'timeout' : 'error',
      ...(fault === undefined ? {} : { fault }),
      attempts: outcome?.attempts ?? 0,
      job_id: job.job_id,
      ...(reports ? { consult: consultFactsOf(job) } : {}),
    };
  };

  /** Resolve a consult's arguments into a request (in arrival order, for the FIFO queue). */
  const resolve = (input: v.InferOutput<Catalog['consultSchema']>) => {
    const resolving = inArrivalOrder.then(() => resolveConsult(input, deps));
    inArrivalOrder = resolving.catch(() => undefined);
    return resolving;
  };

  /** Start (or join) the job of a consult call; undefined means the arguments were refused. */
  const submit = async (args: unknown, site: Site, ttlMs?: number) => {
    const parsed = v.safeParse(catalog.consultSchema, args, { abortEarly: false });
    if (!parsed.success) return { refused: invalid(site, describeIssues(parsed.issues)) };
    const input = parsed.output;
    const resolved = await resolve(input);
    if (!resolved.ok) return { refused: invalid(site, resolved.error) };
    const { request, timeoutMs } = resolved.value;
    const presentation = presentationOf(input);
    const key = input.request_key ?? null;
    const submitted = jobs.submit({
      request,
      timeoutMs,
      key,
      fingerprint: fingerprint(request, timeoutMs),
      render: presentation.render,
      detail: presentation.detail,
      ...(ttlMs === undefined ? {} : { ttlMs }),
    });
    if (submitted.kind === 'conflict') {
      return {
        refused: invalid(
          site,
          `request_key: ${JSON.stringify(key)} already names job ${submitted.jobId}, which asked something else; retry with the same arguments to join it, or use another key`,
        ),
      };
    }
    return { submitted, input, timeoutMs, presentation };
  };

  const consult: Handler = async (args, ctx, site) => {
    const s = await submit(args, site);
    if ('refused' in s) return s.refused;
    const { submitted, input, timeoutMs, presentation } = s;
    const starter = submitted.kind === 'started' ? submitted.job : undefined;
    const jobId = submitted.kind === 'started' ? submitted.job.id : submitted.jobId;
    const waitS = input.wait_s ?? deps.config.defaultWaitS;
    const waitMs = waitS === undefined ? timeoutMs + UNTIL_THE_END_MARGIN_MS : waitS * 1000;
    // Cancelling the call that started a job cancels the job; the job then records its own end.
    const onCancel = () => {
      if (starter === undefined) return;
      starter.starterWaiting = false;
      void jobs.cancel(jobId);
    };
    ctx.signal.addEventListener('abort', onCancel, { once: true });
    // Cancelled while its arguments were being checked: still queued, so it never starts.
    if (ctx.signal.aborted) onCancel();
    const progress = reporter(ctx);
    let job: JobRecord | undefined;
    try {
      job = await jobs.wait(jobId, waitMs, {
        signal: ctx.signal,
        ...(progress === undefined ? {} : { progress }),
      });
    } finally {
      ctx.signal.removeEventListener('abort', onCancel);
      progress?.close();
    }
    if (ctx.signal.aborted) {
      // The SDK sends nothing for a cancelled request, as MCP requires.
      const fault = createFault('cancelled', site, 'the consult was cancelled');
      return { result: faultResult(fault), outcome: 'cancelled', attempts: 0, job_id: jobId };
    }
    if (job === undefined) return unknownJob(site, jobId);
    // Still running: the job records its own end; the starting call reports it otherwise.
    const reports = starter !== undefined && !isActive(job.status);
    if (starter !== undefined && isActive(job.status)) starter.starterWaiting = false;
    return answer(job, presentation, reports);
  };

  const consultResult: Handler = async (args, ctx, site) => {
    const parsed = v.safeParse(catalog.resultSchema, args, { abortEarly: false });
    if (!parsed.success) return invalid(site, describeIssues(parsed.issues));
    const { job_id: jobId } = parsed.output;
    const progress = reporter(ctx);
    try {
      const job = await jobs.wait(jobId, (parsed.output.wait_s ?? RESULT_WAIT_DEFAULT_S) * 1000, {
        signal: ctx.signal,
        ...(progress === undefined ? {} : { progress }),
      });
      if (job === undefined) return unknownJob(site, jobId);
      return answer(job, presentationOf(parsed.output), false);
    } finally {
      progress?.close();
    }
  };

  const consultCancel: Handler = async (args, _ctx, site) => {
    const parsed = v.safeParse(catalog.jobSchema, args, { abortEarly: false });
    if (!parsed.success) return invalid(site, describeIssues(parsed.issues));
    const { job_id: jobId } = parsed.output;
    const before = jobs.get(jobId);
    if (before === undefined) return unknownJob(site, jobId);
    const job = (await jobs.cancel(jobId)) ?? before;
    return {
      result: cancelResult(job, isActive(before.status), presentationOf(parsed.output)),
      outcome: 'ok',
      attempts: 0,
      job_id: jobId,
    };
  };

  /** A consult asked for as an MCP task: the job, started (or joined), without waiting. */
  const startTask = async (
    args: unknown,
    site: Site,
    ttlMs: number | undefined,
  ): Promise<{ job: JobRecord } | { refused: Answer }> => {
    const s = await submit(args, site, ttlMs);
    if ('refused' in s) return { refused: s.refused };
    const { submitted } = s;
    if (submitted.kind === 'started') {
      submitted.job.starterWaiting = false;
      return { job: submitted.job.record };
    }
    const job = jobs.get(submitted.jobId);
    return job === undefined
      ? { refused: invalid(site, 'the job this request key names is gone') }
      : { job };
  };

  return { consult, consultResult, consultCancel, startTask };
}

/** What makes two consults the same question (a request key may be reused only for it). */
function fingerprint(request: ConsultRequest, timeoutMs: number): string {
  const canonical = JSON.stringify([
    request.prompt,
    request.cwd,
    request.maxTurns ?? null,
    request.model ?? null,
    request.maxBudgetUsd ?? null,
    request.resumeSessionId ?? null,
    timeoutMs,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
