// Durable consults (SPEC §11).
// job_store_cost: what recording a consult as a job costs the host (bench/probes/job-store.ts:
// the real JobService with the real JobStore vs a store that keeps nothing, alternating blocks).
// job_wakeup_latency: from a job's end (its record's ended_at) to the consult_result answer of
// a second server sharing the state dir, which waits on it; the floor is the same measure on
// the job's own server (woken in memory), interleaved.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { callTool, ROOT, startServer } from '../lib/env.mjs';
import { row } from '../lib/report.mjs';
import { acrossRuns, median } from '../lib/stats.mjs';

function jobStoreCost({ quick }) {
  const perBlock = quick ? 200 : 500;
  const blocks = quick ? 4 : 10;
  const probe = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'bench/probes/job-store.ts', String(perBlock), String(blocks)],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (probe.status !== 0) throw new Error(`job-store probe failed: ${probe.stderr}`);
  const { results } = JSON.parse(probe.stdout);
  const cpu = acrossRuns(results.map((r) => r.real.cpuMs - r.none.cpuMs));
  const wall = acrossRuns(results.map((r) => r.real.wallMs - r.none.wallMs));
  return [
    row({
      name: 'job_store_cost (cpu)',
      unit: 'ms',
      figure: acrossRuns(results.map((r) => r.real.cpuMs)),
      floor: acrossRuns(results.map((r) => r.none.cpuMs)),
      compare: { kind: 'diff', ...cpu },
      target: '≤ +0.5 ms per consult',
      pass: cpu.median <= 0.5,
      detail: { perBlock, blocks, results },
    }),
    row({
      name: 'job_store_cost (wall)',
      unit: 'ms',
      figure: acrossRuns(results.map((r) => r.real.wallMs)),
      floor: acrossRuns(results.map((r) => r.none.wallMs)),
      compare: { kind: 'diff', ...wall },
      target: '≤ +0.5 ms per consult',
      pass: wall.median <= 0.5,
      detail: { perBlock, blocks },
    }),
  ];
}

/** Start a consult on `owner` that ends after `sleepS`, and return its job id. */
async function startJob(owner, sleepS) {
  const pending = await callTool(owner.client, 'consult', {
    prompt: `sleep=${sleepS} bench`,
    wait_s: 0,
    render: 'json',
  });
  const jobId = pending.structuredContent?.job_id;
  if (typeof jobId !== 'string') throw new Error(`no job id: ${JSON.stringify(pending)}`);
  return jobId;
}

/** ms from the job's recorded end to `waiter`'s consult_result answer. */
async function wakeUp(owner, waiter, stateDir) {
  const jobId = await startJob(owner, 0.3);
  const result = await callTool(waiter.client, 'consult_result', { job_id: jobId, wait_s: 30 });
  const answered = Date.now();
  if (result.isError) throw new Error(`consult failed: ${result.content?.[0]?.text}`);
  const record = JSON.parse(readFileSync(join(stateDir, 'jobs', `${jobId}.json`), 'utf8'));
  return answered - Date.parse(record.ended_at);
}

async function wakeUpLatency({ quick, log }) {
  const runs = quick ? 1 : 3;
  const calls = quick ? 10 : 20;
  const perRun = [];
  for (let r = 0; r < runs; r++) {
    const a = await startServer();
    const stateDir = a.env.PHONE_OPUS_STATE_DIR;
    const b = await startServer({ env: { PHONE_OPUS_STATE_DIR: stateDir } });
    try {
      await wakeUp(a, b, stateDir); // warm-up
      const cross = [];
      const own = [];
      for (let i = 0; i < calls; i++) {
        if (i % 2 === 0) {
          cross.push(await wakeUp(a, b, stateDir));
          own.push(await wakeUp(a, a, stateDir));
        } else {
          own.push(await wakeUp(a, a, stateDir));
          cross.push(await wakeUp(a, b, stateDir));
        }
      }
      perRun.push({ cross: median(cross), own: median(own), crossMax: Math.max(...cross) });
      log(`job wake-up run ${r + 1}: other server ${median(cross)} ms, own ${median(own)} ms`);
    } finally {
      await b.close();
      await a.close();
    }
  }
  const figure = acrossRuns(perRun.map((p) => p.cross));
  return [
    row({
      name: 'job_wakeup_latency (other server)',
      unit: 'ms',
      figure,
      floor: acrossRuns(perRun.map((p) => p.own)),
      compare: { kind: 'diff', ...acrossRuns(perRun.map((p) => p.cross - p.own)) },
      target: '≤ 50 ms',
      pass: figure.median <= 50,
      detail: {
        runs,
        calls,
        perRun,
        clock: 'record ended_at (ms) to the answer read by the client',
      },
    }),
  ];
}

export async function jobs({ quick, log }) {
  const rows = jobStoreCost({ quick });
  log(`job_store_cost: +${rows[0].compare.median.toFixed(3)} ms cpu per consult`);
  rows.push(...(await wakeUpLatency({ quick, log })));
  return rows;
}
