// cancel_latency: `notifications/cancelled` for a running consult → every process of the CLI's
// group gone (/proc; zombies count as gone), against the client SIGTERMing a group it spawned
// itself. crash_recovery: with the crash test hook, the first consult's thread exits right after
// spawning the CLI; from that fault's arrival to the next consult served, against the first
// consult of a fresh server (which also has to start a thread).
import {
  callTool,
  consult,
  health,
  now,
  pair,
  SH_FAKE,
  sleep,
  spawnLikeServer,
  startServer,
} from '../lib/env.mjs';
import { comm, descendantsOf, groupMembers, isGone } from '../lib/proc.mjs';
import { row } from '../lib/report.mjs';
import { acrossRuns, median } from '../lib/stats.mjs';

const POLL_LIMIT_MS = 5000;

async function until(check, limitMs, what) {
  const deadline = now() + limitMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** The fake's group once its `sleep` child runs: [leader, sleep]. */
const runningGroup = (leader) => {
  const members = groupMembers(leader);
  return members.some((p) => comm(p.pid) === 'sleep') ? members.map((p) => p.pid) : null;
};

/** Milliseconds from `started` until every pid is gone, polled as fast as the loop allows. */
async function goneAfter(pids, started) {
  while (!pids.every(isGone)) {
    if (now() - started > POLL_LIMIT_MS) return Number.POSITIVE_INFINITY;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return now() - started;
}

async function cancelViaServer(server, seen) {
  const { id } = server.client.start('tools/call', {
    name: 'consult',
    arguments: { prompt: 'sleep=30' },
  });
  // The CLI may run under the server's guard shell: find it among the server's descendants
  // and take its process group (led by the guard, or by the CLI itself without one).
  const leader = await until(
    () =>
      descendantsOf(server.pid).find((p) => !seen.has(p.pgrp) && comm(p.pid) === 'fake-claude.sh')
        ?.pgrp,
    POLL_LIMIT_MS,
    'the CLI to start',
  );
  seen.add(leader);
  const pids = await until(() => runningGroup(leader), POLL_LIMIT_MS, 'the CLI to sleep');
  const started = now();
  server.client.notify('notifications/cancelled', { requestId: id, reason: 'bench' });
  server.client.drop(id);
  const gone = await goneAfter(pids, started);
  let slotFree = null;
  while (slotFree === null && now() - started < POLL_LIMIT_MS) {
    if ((await health(server.client)).in_flight === 0) slotFree = now() - started;
  }
  return { gone, slotFree };
}

async function killDirect(server) {
  const child = spawnLikeServer(SH_FAKE, 'sleep=30', {
    env: server.env,
    cwd: server.dir,
    stdout: 'ignore',
  });
  child.stderr.resume();
  const pids = await until(
    () => runningGroup(child.pid),
    POLL_LIMIT_MS,
    'the direct fake to sleep',
  );
  const started = now();
  process.kill(-child.pid, 'SIGTERM');
  return { gone: await goneAfter(pids, started) };
}

async function cancelLatency({ quick, log }) {
  const runs = quick ? 1 : 3;
  const samples = quick ? 6 : 15;
  const perRun = [];
  for (let r = 0; r < runs; r++) {
    const server = await startServer();
    const seen = new Set();
    try {
      await consult(server.client); // start a thread
      const a = [];
      const b = [];
      const slot = [];
      for (let i = 0; i < samples; i++) {
        const [x, y] = await pair(
          i,
          () => cancelViaServer(server, seen),
          () => killDirect(server),
        );
        a.push(x.gone);
        b.push(y.gone);
        slot.push(x.slotFree ?? Number.POSITIVE_INFINITY);
      }
      await sleep(100);
      const run = {
        server: median(a),
        floor: median(b),
        diff: median(a.map((x, i) => x - b[i])),
        max: Math.max(...a),
        slotFree: median(slot),
        responsesToCancelled: server.client.unexpected.length,
        inFlightAfter: (await health(server.client)).in_flight,
      };
      perRun.push(run);
      log(
        `cancel run ${r + 1}: ${run.server.toFixed(2)} ms (max ${run.max.toFixed(1)}) vs direct ${run.floor.toFixed(2)} ms; slot free ${run.slotFree.toFixed(1)} ms; responses to cancelled ${run.responsesToCancelled}`,
      );
    } finally {
      await server.close();
    }
  }
  const figure = acrossRuns(perRun.map((p) => p.server));
  const answered = perRun.reduce((n, p) => n + p.responsesToCancelled, 0);
  return row({
    name: 'cancel_latency',
    unit: 'ms',
    figure,
    floor: acrossRuns(perRun.map((p) => p.floor)),
    compare: { kind: 'diff', ...acrossRuns(perRun.map((p) => p.diff)) },
    target: '≤ 50 ms (no response sent)',
    pass: figure.median <= 50 && answered === 0,
    detail: {
      runs,
      samples,
      slotFreeMs: acrossRuns(perRun.map((p) => p.slotFree)),
      responsesToCancelled: answered,
      perRun,
    },
  });
}

async function crashed() {
  const server = await startServer({
    env: { PHONE_OPUS_MCP_TEST_WORKER_CRASH_ONCE_KEY: 'tools/call:consult' },
  });
  try {
    const started = now();
    const first = await callTool(server.client, 'consult', { prompt: 'bench' });
    const faulted = now();
    const code = first.structuredContent?.fault?.code;
    if (!first.isError || code !== 'outcome_unknown') {
      throw new Error(
        `crash hook: expected outcome_unknown, got ${JSON.stringify(first).slice(0, 200)}`,
      );
    }
    await consult(server.client);
    const served = now();
    const h = await health(server.client);
    return {
      crashedConsult: faulted - started,
      recovery: served - faulted,
      generation: h.generation,
    };
  } finally {
    await server.close();
  }
}

async function fresh() {
  const server = await startServer();
  try {
    const started = now();
    await consult(server.client);
    const cold = now() - started;
    const again = now();
    await consult(server.client);
    return { cold, warm: now() - again };
  } finally {
    await server.close();
  }
}

async function crashRecovery({ quick, log }) {
  const runs = quick ? 1 : 3;
  const samples = quick ? 2 : 5;
  const perRun = [];
  for (let r = 0; r < runs; r++) {
    const a = [];
    const b = [];
    for (let i = 0; i < samples; i++) {
      const [x, y] = await pair(i, crashed, fresh);
      a.push(x);
      b.push(y);
    }
    const run = {
      recovery: median(a.map((x) => x.recovery)),
      crashedConsult: median(a.map((x) => x.crashedConsult)),
      coldConsult: median(b.map((y) => y.cold)),
      warmConsult: median(b.map((y) => y.warm)),
      ratio: median(a.map((x, i) => x.recovery / b[i].cold)),
      generations: a.map((x) => x.generation),
    };
    perRun.push(run);
    log(
      `crash run ${r + 1}: recovery ${run.recovery.toFixed(1)} ms (crashed consult ${run.crashedConsult.toFixed(1)} ms) vs cold consult ${run.coldConsult.toFixed(1)} ms`,
    );
  }
  return row({
    name: 'crash_recovery (fault → next consult served)',
    unit: 'ms',
    figure: acrossRuns(perRun.map((p) => p.recovery)),
    floor: acrossRuns(perRun.map((p) => p.coldConsult)),
    floorUnit: 'ms (cold 1st consult)',
    compare: { kind: 'ratio', ...acrossRuns(perRun.map((p) => p.ratio)) },
    target: 'report',
    pass: null,
    detail: {
      runs,
      samples,
      crashedConsultMs: acrossRuns(perRun.map((p) => p.crashedConsult)),
      warmConsultMs: acrossRuns(perRun.map((p) => p.warmConsult)),
      perRun,
    },
  });
}

export async function faults(ctx) {
  return [await cancelLatency(ctx), await crashRecovery(ctx)];
}
