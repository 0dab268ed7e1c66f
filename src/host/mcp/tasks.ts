/**
 * MCP tasks on the same jobs (SPEC §11; task id = job id): the 2025-11-25 form (`params.task`
 * on `tools/call` → `{task}`, then `tasks/get`, `tasks/result`, `tasks/list`, `tasks/cancel`)
 * and, on 2026-07-28, the `io.modelcontextprotocol/tasks` extension (a consult whose request
 * declares it answers `resultType: "task"`; `tasks/get` inlines the result; `tasks/cancel`).
 */

import type { CallToolResult } from '@modelcontextprotocol/server';
import { ProtocolError } from '@modelcontextprotocol/server';
import { POLL_AFTER_MS, terminalResult } from '../consult/job-output.ts';
import { isActive, type JobRecord, taskStatusOf } from '../jobs/job-record.ts';
import type { JobService } from '../jobs/job-service.ts';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';
const INVALID_PARAMS = -32602;
const PAGE = 50;

/** A task's TTL as asked (2025: `params.task.ttl`), within a second and thirty days. */
export function taskTtlMs(ttl: unknown): number | undefined {
  if (typeof ttl !== 'number' || !Number.isFinite(ttl)) return undefined;
  return Math.min(Math.max(Math.round(ttl), 1000), 30 * 86_400_000);
}

/** What a task's status line says. */
function statusMessage(job: JobRecord): string {
  if (job.status === 'queued') return 'waiting for a free slot';
  if (job.status === 'running') {
    const tool = job.progress.last_tool === null ? '' : ` · ${job.progress.last_tool}`;
    return `turn ${job.progress.turns}${tool}`;
  }
  return `consult ${job.status}`;
}

/** The 2025-11-25 Task. */
export function task2025(job: JobRecord) {
  return {
    taskId: job.job_id,
    status: taskStatusOf(job.status),
    statusMessage: statusMessage(job),
    createdAt: job.created_at,
    lastUpdatedAt: job.updated_at,
    ttl: job.ttl_ms,
    pollInterval: POLL_AFTER_MS,
  };
}

/** The 2026 extension's Task, with the result inlined once there is one. */
export function task2026(job: JobRecord) {
  const status = taskStatusOf(job.status);
  return {
    taskId: job.job_id,
    status,
    statusMessage: statusMessage(job),
    createdAt: job.created_at,
    lastUpdatedAt: job.updated_at,
    ttlMs: job.ttl_ms,
    pollIntervalMs: POLL_AFTER_MS,
    // Inlined, the result is a complete 2026 result in its own right.
    ...(status === 'completed' ? { result: { resultType: 'complete', ...resultOf(job) } } : {}),
  };
}

/** The task's result: the consult's, rendered as the call that started it asked. */
export function resultOf(job: JobRecord): CallToolResult {
  return {
    ...terminalResult(job, { render: job.render, detail: job.detail }),
    _meta: { 'io.modelcontextprotocol/related-task': { taskId: job.job_id } },
  };
}

export function taskHandlers(jobs: JobService) {
  const known = (taskId: string): JobRecord => {
    const job = jobs.get(taskId);
    if (job === undefined) {
      throw new ProtocolError(INVALID_PARAMS, `unknown task ${taskId} (or expired)`);
    }
    return job;
  };
  return {
    get: (taskId: string) => known(taskId),
    /** tasks/result (2025-11-25): blocks until the task is done. */
    result: async (taskId: string, signal: AbortSignal): Promise<CallToolResult> => {
      known(taskId);
      for (;;) {
        const job = await jobs.wait(taskId, 60_000, { signal });
        if (job === undefined) throw new ProtocolError(INVALID_PARAMS, `task ${taskId} is gone`);
        if (!isActive(job.status)) return resultOf(job);
        if (signal.aborted) throw new ProtocolError(INVALID_PARAMS, 'cancelled');
      }
    },
    list: (cursor: string | undefined) => {
      const all = jobs.list();
      const start = cursor === undefined ? 0 : Number.parseInt(cursor, 10);
      if (!Number.isSafeInteger(start) || start < 0) {
        throw new ProtocolError(INVALID_PARAMS, `invalid cursor ${JSON.stringify(cursor)}`);
      }
      const page = all.slice(start, start + PAGE);
      return {
        tasks: page.map(task2025),
        ...(start + PAGE < all.length ? { nextCursor: String(start + PAGE) } : {}),
      };
    },
    cancel: async (taskId: string): Promise<JobRecord> => {
      const job = known(taskId);
      if (!isActive(job.status)) {
        throw new ProtocolError(
          INVALID_PARAMS,
          `task ${taskId} has already ended (${taskStatusOf(job.status)}); it cannot be cancelled`,
        );
      }
      return (await jobs.cancel(taskId)) ?? job;
    },
  };
}
