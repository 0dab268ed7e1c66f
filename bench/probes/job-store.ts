// job_store_cost: what recording a consult as a job costs the host, per consult. The real
// JobService runs consults whose CLI part is a stand-in that answers at once (session, two
// turns, a ~1 KB answer), alternately with the real JobStore on a temporary state dir and with
// a store that keeps nothing (the floor). Prints JSON: CPU and wall per consult, both ways.
// Run under tsx: node --import tsx bench/probes/job-store.ts [consults-per-block] [blocks]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsultService } from '../../src/host/consult/consult-service.ts';
import type { ConsultOutcome } from '../../src/host/consult/outcome-faults.ts';
import type { ProgressSink } from '../../src/host/consult/progress.ts';
import { JobService } from '../../src/host/jobs/job-service.ts';
import { JobStore } from '../../src/host/jobs/job-store.ts';
import type { Recorder } from '../../src/host/observability/recorder.ts';
import type { SessionStore } from '../../src/host/state/session-store.ts';

const perBlock = Number(process.argv[2] ?? 500);
const blocks = Number(process.argv[3] ?? 10);
const ANSWER = 'The bench answer. '.repeat(60);

const consults = {
  run: async (call: { progress: ProgressSink }): Promise<ConsultOutcome> => {
    call.progress.started(1);
    call.progress.event({ kind: 'session', session_id: 'bench-session', model: 'claude-bench-1' });
    call.progress.event({ kind: 'turn', turn: 1, tools: ['Read'] });
    call.progress.event({ kind: 'turn', turn: 2, tools: [] });
    return {
      kind: 'ok',
      value: {
        response: ANSWER,
        cwd: '/home/me/project',
        session_id: 'bench-session',
        model: 'claude-bench-1',
        num_turns: 2,
        duration_ms: 1234,
        duration_api_ms: 1200,
        stop_reason: 'end_turn',
        total_cost_usd: 0.0123,
        usage: { input_tokens: 100, output_tokens: 20 },
        model_usage: {},
        permission_denials: [],
        build: 'bench',
      },
      generation: 1,
      attempts: 1,
    };
  },
} as unknown as ConsultService;

class NullStore extends JobStore {
  override write(): boolean {
    return true;
  }
  override read() {
    return undefined;
  }
  override remove(): void {}
}

function service(store: JobStore): JobService {
  return new JobService({
    store,
    consults,
    recorder: { jobEnded: () => {} } as unknown as Recorder,
    sessions: { remember: () => {} } as unknown as SessionStore,
    clock: { nowMs: Date.now, monotonicMs: () => performance.now() },
    owner: { pid: process.pid, start: '0' },
    generation: () => 1,
    logPrompts: false,
    retentionMs: 86_400_000,
    maxJobs: 1_000_000,
  });
}

async function block(jobs: JobService): Promise<{ cpuMs: number; wallMs: number }> {
  const cpu = process.cpuUsage();
  const began = performance.now();
  for (let i = 0; i < perBlock; i++) {
    const submitted = jobs.submit({
      request: { prompt: `bench ${i}`, cwd: '/home/me/project' },
      timeoutMs: 60_000,
      key: null,
      fingerprint: 'f',
      render: 'porcelain',
      detail: 'concise',
    } as never);
    if (submitted.kind !== 'started') throw new Error('not started');
    await new Promise<void>((resolve) => submitted.job.onEnd(resolve));
  }
  const used = process.cpuUsage(cpu);
  return {
    cpuMs: (used.user + used.system) / 1000 / perBlock,
    wallMs: (performance.now() - began) / perBlock,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'phone-opus-bench-jobs-'));
const log = () => {};
const real = service(new JobStore(dir, log));
const none = service(new NullStore(dir, log));
const results: {
  real: { cpuMs: number; wallMs: number };
  none: { cpuMs: number; wallMs: number };
}[] = [];
try {
  await block(real); // warm-up
  await block(none);
  for (let b = 0; b < blocks; b++) {
    // Alternate which goes first: drift on a shared machine hits both alike.
    if (b % 2 === 0) {
      const r = await block(real);
      results.push({ real: r, none: await block(none) });
    } else {
      const n = await block(none);
      results.push({ real: await block(real), none: n });
    }
    // Keep the directory at a steady size (retention would): each block starts from empty.
    rmSync(join(dir, 'jobs'), { recursive: true, force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ perBlock, blocks, results })}\n`);
