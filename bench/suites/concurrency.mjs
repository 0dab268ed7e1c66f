// concurrent_consults: N consults of a fake that sleeps 1 s, through the server, against the
// client spawning N such fakes in parallel itself (same repetition, alternating order).
// health_under_load: a health round trip every 20 ms while N consults run, against idle health
// in the same run; (a) N sleeping sh fakes, (b) N CPU-heavy node fakes (700 ms CPU, then 1 s).
import {
  callTool,
  consult,
  NODE_FAKE,
  now,
  pair,
  runDirect,
  SH_FAKE,
  sleep,
  startServer,
} from '../lib/env.mjs';
import { row } from '../lib/report.mjs';
import { acrossRuns, summarize } from '../lib/stats.mjs';

const wall = async (jobs) => {
  const started = now();
  await Promise.all(jobs());
  return now() - started;
};

async function concurrentVariant({ cap, n, reps, log }) {
  const server = await startServer({ env: { PHONE_OPUS_MAX_CONCURRENCY: String(cap) } });
  try {
    // Start the threads first: thread start-up is cold_init's and crash_recovery's business.
    await Promise.all(
      Array.from({ length: Math.min(n, cap) }, () => consult(server.client, 'sleep=0.2')),
    );
    const perRep = [];
    for (let rep = 0; rep < reps; rep++) {
      const [a, b] = await pair(
        rep,
        () => wall(() => Array.from({ length: n }, () => consult(server.client, 'sleep=1'))),
        () =>
          wall(() =>
            Array.from({ length: n }, () =>
              runDirect({ prompt: 'sleep=1', env: server.env, cwd: server.dir }),
            ),
          ),
      );
      perRep.push({ server: a, floor: b, ratio: a / b });
      log(`concurrent cap=${cap} n=${n} rep ${rep + 1}: ${a.toFixed(0)} ms vs ${b.toFixed(0)} ms`);
    }
    const batches = Math.ceil(n / cap);
    const limit = 1.05 * batches;
    const ratio = acrossRuns(perRep.map((p) => p.ratio));
    return row({
      name: `concurrent_consults (N=${n}, cap ${cap})`,
      unit: 'ms',
      figure: acrossRuns(perRep.map((p) => p.server)),
      floor: acrossRuns(perRep.map((p) => p.floor)),
      compare: { kind: 'ratio', ...ratio },
      target: batches === 1 ? '≤ 1.05×' : `≤ 1.05 × ${batches} = ${limit.toFixed(2)}×`,
      pass: ratio.median <= limit,
      detail: { reps, fake: 'sh, sleep 1 s', perRep },
    });
  } finally {
    await server.close();
  }
}

/**
 * Health round trips every `periodMs` until `until` settles (or `count` samples without it);
 * each sample is [ms since the start, round trip ms].
 */
async function sampleHealth(client, { periodMs = 20, until, count }) {
  const samples = [];
  const origin = now();
  let done = false;
  until?.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  while (until !== undefined ? !done : samples.length < count) {
    const started = now();
    await callTool(client, 'health_snapshot');
    samples.push([started - origin, now() - started]);
    await sleep(periodMs);
  }
  return samples;
}

const START_BURST_MS = 500;

async function healthRun({ fake, prompt, n }) {
  const server = await startServer({ fake, env: { PHONE_OPUS_MAX_CONCURRENCY: String(n) } });
  try {
    await Promise.all(Array.from({ length: n }, () => consult(server.client, 'sleep=0.1')));
    await sampleHealth(server.client, { periodMs: 1, count: 50 }); // warm-up
    const idle = summarize((await sampleHealth(server.client, { count: 50 })).map(([, ms]) => ms));
    const load = Promise.all(Array.from({ length: n }, () => consult(server.client, prompt)));
    const samples = await sampleHealth(server.client, { until: load });
    await load;
    const worst = samples.reduce((w, s) => (s[1] > w[1] ? s : w));
    // Was the worst moment the burst of consult starts (spawns) or the steady load?
    const afterStarts = samples.filter(([at]) => at >= START_BURST_MS).map(([, ms]) => ms);
    return {
      idle,
      busy: summarize(samples.map(([, ms]) => ms)),
      worstAtMs: Math.round(worst[0]),
      afterStarts: afterStarts.length > 0 ? summarize(afterStarts) : null,
    };
  } finally {
    await server.close();
  }
}

export async function concurrency({ quick, log }) {
  const reps = quick ? 2 : 3;
  const rows = [await concurrentVariant({ cap: 4, n: 4, reps, log })];
  if (!quick) {
    rows.push(await concurrentVariant({ cap: 8, n: 8, reps, log }));
    rows.push(await concurrentVariant({ cap: 4, n: 8, reps, log }));
  }
  const N = 8;
  const cases = [
    { label: 'sleeping', fake: SH_FAKE, prompt: 'sleep=2', p99: 10 },
    { label: 'CPU-heavy', fake: NODE_FAKE, prompt: 'burn=0.7 sleep=1', p99: 25 },
  ];
  for (const c of cases) {
    const perRun = [];
    for (let r = 0; r < (quick ? 1 : 3); r++) {
      const result = await healthRun({ fake: c.fake, prompt: c.prompt, n: N });
      perRun.push(result);
      log(
        `health ${c.label} run ${r + 1}: idle p50 ${result.idle.median.toFixed(2)} ms; load p50 ${result.busy.median.toFixed(2)} p99 ${result.busy.p99.toFixed(2)} max ${result.busy.max.toFixed(1)} ms at +${result.worstAtMs} ms (n=${result.busy.n}); after the first ${START_BURST_MS} ms p99 ${result.afterStarts?.p99.toFixed(2)}`,
      );
    }
    const p50 = acrossRuns(perRun.map((p) => p.busy.median));
    const p99 = acrossRuns(perRun.map((p) => p.busy.p99));
    const detail = {
      consults: N,
      cap: N,
      prompt: c.prompt,
      periodMs: 20,
      client: 'raw',
      p99AfterStartBurstMs: acrossRuns(perRun.map((p) => p.afterStarts?.p99 ?? Number.NaN)),
      perRun,
    };
    rows.push(
      row({
        name: `health_under_load p50 (${N} ${c.label})`,
        unit: 'ms',
        figure: p50,
        floor: acrossRuns(perRun.map((p) => p.idle.median)),
        compare: { kind: 'ratio', ...acrossRuns(perRun.map((p) => p.busy.median / p.idle.median)) },
        target: '≤ 2 ms',
        pass: p50.median <= 2,
        detail,
      }),
      row({
        name: `health_under_load p99 (${N} ${c.label})`,
        unit: 'ms',
        figure: p99,
        floor: acrossRuns(perRun.map((p) => p.idle.p99)),
        compare: { kind: 'ratio', ...acrossRuns(perRun.map((p) => p.busy.p99 / p.idle.p99)) },
        target: `≤ ${c.p99} ms`,
        pass: p99.median <= c.p99,
        detail: { see: 'p50 row' },
      }),
    );
  }
  return rows;
}
