// idle_rss: RSS after initialize + warm-up + 1 s idle, against a bare idle `node` started next
// to it; then the cost of pool threads (consults start them lazily). rss_growth: RSS after 2000
// consults against after the first 200 (a leak guard).
import { spawn } from 'node:child_process';
import { callTool, consult, health, sandbox, sleep, startServer } from '../lib/env.mjs';
import { reachableHeapMb, SNAPSHOT_ARGS } from '../lib/heap.mjs';
import { rssMb } from '../lib/proc.mjs';
import { row } from '../lib/report.mjs';
import { acrossRuns } from '../lib/stats.mjs';

const SETTLE_MS = 1000;

function bareNode() {
  const box = sandbox();
  const child = spawn(process.execPath, ['-e', 'process.stdin.resume()'], {
    env: box.env,
    cwd: box.dir,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    pid: child.pid,
    close: async () => {
      child.stdin.end();
      await exited;
      box.remove();
    },
  };
}

async function idleRep(cap) {
  const bare = bareNode();
  const server = await startServer();
  try {
    await server.client.request('tools/list', {});
    for (let i = 0; i < 20; i++) await callTool(server.client, 'health_snapshot');
    await callTool(server.client, 'telemetry_snapshot');
    await sleep(SETTLE_MS);
    const idle = rssMb(server.pid);
    const bareRss = rssMb(bare.pid);
    const threadsAt = async (k) => {
      await Promise.all(Array.from({ length: k }, () => consult(server.client, 'sleep=0.3')));
      await sleep(SETTLE_MS);
      return { rss: rssMb(server.pid), live: (await health(server.client)).threads.live };
    };
    const one = await threadsAt(1);
    const all = await threadsAt(cap);
    return {
      idle,
      bare: bareRss,
      ratio: idle / bareRss,
      oneThread: one,
      allThreads: all,
      firstConsult: one.rss - idle,
      perExtraThread: (all.rss - one.rss) / Math.max(1, all.live - one.live),
    };
  } finally {
    await server.close();
    await bare.close();
  }
}

/** Run `total` consults, `inFlight` at a time. */
async function consults(client, total, inFlight) {
  let sent = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (sent < total) {
        sent += 1;
        await consult(client);
      }
    }),
  );
}

/**
 * RSS after `first` and after `total` consults, or (with `heap`) the main thread's reachable
 * heap instead: a snapshot inflates RSS for good, so one server cannot measure both.
 */
async function growthRep(first, total, { heap }) {
  const server = await startServer({ nodeArgs: heap ? SNAPSHOT_ARGS : [] });
  const measure = async () => {
    await sleep(SETTLE_MS);
    return heap ? reachableHeapMb(server.pid, server.dir) : rssMb(server.pid);
  };
  try {
    await consults(server.client, first, 4);
    const a = await measure();
    await consults(server.client, total - first, 4);
    const b = await measure();
    return { first: a, last: b, growth: b - a };
  } finally {
    await server.close();
  }
}

export async function memory({ quick, log }) {
  const reps = quick ? 1 : 3;
  const growthReps = quick ? 1 : 2; // RSS was identical to ±2 MB rep to rep
  // Quick mode keeps the shape (a first measurement after 10–20 %) at a tenth of the consults.
  const [first, total] = quick ? [40, 200] : [200, 2000];
  const cap = 4; // the default PHONE_OPUS_MAX_CONCURRENCY
  const idle = [];
  for (let r = 0; r < reps; r++) {
    const rep = await idleRep(cap);
    idle.push(rep);
    log(
      `idle rss rep ${r + 1}: ${rep.idle.toFixed(1)} MB vs bare ${rep.bare.toFixed(1)} MB; 1 thread ${rep.oneThread.rss.toFixed(1)} MB, ${rep.allThreads.live} threads ${rep.allThreads.rss.toFixed(1)} MB`,
    );
  }
  const growth = [];
  for (let r = 0; r < growthReps; r++) {
    const g = await growthRep(first, total, { heap: false });
    growth.push(g);
    log(`rss growth rep ${r + 1}: ${g.first.toFixed(1)} → ${g.last.toFixed(1)} MB`);
  }
  // Two heap snapshots cost ~10–30 s here: the leak guard runs in full runs only.
  const heap = quick ? null : await growthRep(first, total, { heap: true });
  if (heap !== null) {
    log(`reachable main-thread heap: ${heap.first.toFixed(2)} → ${heap.last.toFixed(2)} MB`);
  }
  const heapRows = [];
  if (heap !== null) {
    const heapGrown = acrossRuns([heap.growth]);
    heapRows.push(
      row({
        name: `heap_growth (main thread, reachable; ${first} → ${total})`,
        unit: 'MB',
        figure: acrossRuns([heap.last]),
        floor: acrossRuns([heap.first]),
        compare: { kind: 'diff', ...heapGrown },
        target: '≤ +1 MB (leak guard)',
        pass: heapGrown.median <= 1,
        detail: {
          how: 'heap snapshot on SIGUSR2 (--heapsnapshot-signal), sum of self sizes except compiled code',
        },
      }),
    );
  }
  const idleFigure = acrossRuns(idle.map((p) => p.idle));
  const idleRatio = acrossRuns(idle.map((p) => p.ratio));
  const perThread = acrossRuns(idle.map((p) => p.perExtraThread));
  const grown = acrossRuns(growth.map((p) => p.growth));
  return [
    row({
      name: 'idle_rss (default config, no thread)',
      unit: 'MB',
      figure: idleFigure,
      floor: acrossRuns(idle.map((p) => p.bare)),
      compare: { kind: 'ratio', ...idleRatio },
      target: '≤ 80 MB and ≤ 2.0× bare node',
      pass: idleFigure.median <= 80 && idleRatio.median <= 2,
      detail: { reps, settleMs: SETTLE_MS, perRep: idle },
    }),
    row({
      name: `idle_rss per extra thread (1 → ${cap} threads)`,
      unit: 'MB',
      figure: perThread,
      floor: acrossRuns(idle.map((p) => p.oneThread.rss)),
      floorUnit: 'MB (1 thread)',
      target: '≤ 10 MB per thread',
      pass: perThread.median <= 10,
      detail: {
        firstConsultMb: acrossRuns(idle.map((p) => p.firstConsult)),
        threadsLive: idle.map((p) => p.allThreads.live),
      },
    }),
    row({
      name: `rss_growth (${first} → ${total} consults)`,
      unit: 'MB',
      figure: acrossRuns(growth.map((p) => p.last)),
      floor: acrossRuns(growth.map((p) => p.first)),
      compare: { kind: 'diff', ...grown },
      target: '≤ +10 MB',
      pass: grown.median <= 10,
      detail: { reps: growthReps, inFlight: 4, perRep: growth },
    }),
    ...heapRows,
  ];
}
