// consult_overhead and host_cpu_per_consult: per call, alternately, a consult through the server
// (raw JSON-RPC client) and the client spawning the same fake itself (runDirect). Over the same
// calls: the server's utime+stime from /proc (all threads) and the client's own CPU around its
// direct spawns (the floor: what spawning + parsing costs a Node process).
import { consult, NODE_FAKE, now, pair, runDirect, SH_FAKE, startServer } from '../lib/env.mjs';
import { cpuMs } from '../lib/proc.mjs';
import { row } from '../lib/report.mjs';
import { acrossRuns, median } from '../lib/stats.mjs';

async function overheadRun({ fake, calls, warmup }) {
  const server = await startServer({ fake });
  const direct = () => runDirect({ fake, env: server.env, cwd: server.dir });
  try {
    for (let i = 0; i < warmup; i++) {
      await consult(server.client);
      await direct();
    }
    const a = [];
    const b = [];
    const diffs = [];
    const ratios = [];
    let clientCpuUs = 0;
    const serverCpu0 = cpuMs(server.pid);
    for (let i = 0; i < calls; i++) {
      const [x, y] = await pair(
        i,
        async () => {
          const started = now();
          await consult(server.client);
          return now() - started;
        },
        async () => {
          const cpu = process.cpuUsage();
          const started = now();
          await direct();
          const ms = now() - started;
          const used = process.cpuUsage(cpu);
          clientCpuUs += used.user + used.system;
          return ms;
        },
      );
      a.push(x);
      b.push(y);
      diffs.push(x - y);
      ratios.push(x / y);
    }
    const serverCpu = cpuMs(server.pid) - serverCpu0;
    return {
      server: median(a),
      floor: median(b),
      diff: median(diffs),
      ratio: median(ratios),
      serverCpuPerConsult: serverCpu / calls,
      directCpuPerSpawn: clientCpuUs / 1000 / calls,
    };
  } finally {
    await server.close();
  }
}

export async function consultOverhead({ quick, log }) {
  const runs = quick ? 1 : 5;
  const sh = [];
  for (let r = 0; r < runs; r++) {
    const result = await overheadRun({ fake: SH_FAKE, calls: 300, warmup: 30 });
    sh.push(result);
    log(
      `consult sh run ${r + 1}: ${result.server.toFixed(2)} vs ${result.floor.toFixed(2)} ms; cpu ${result.serverCpuPerConsult.toFixed(2)} ms/consult`,
    );
  }
  const diff = acrossRuns(sh.map((p) => p.diff));
  const cpu = acrossRuns(sh.map((p) => p.serverCpuPerConsult));
  const cpuFloor = acrossRuns(sh.map((p) => p.directCpuPerSpawn));
  const rows = [
    row({
      name: 'consult_overhead (sh fake)',
      unit: 'ms',
      figure: acrossRuns(sh.map((p) => p.server)),
      floor: acrossRuns(sh.map((p) => p.floor)),
      compare: { kind: 'diff', ...diff },
      target: '≤ +1.5 ms median difference',
      pass: diff.median <= 1.5,
      detail: { runs, calls: 300, client: 'raw', perRun: sh },
    }),
    row({
      name: 'host_cpu_per_consult',
      unit: 'ms',
      figure: cpu,
      floor: cpuFloor,
      compare: {
        kind: 'ratio',
        ...acrossRuns(sh.map((p) => p.serverCpuPerConsult / p.directCpuPerSpawn)),
      },
      target: '≤ 2.5 ms',
      pass: cpu.median <= 2.5,
      detail: { consultsPerRun: 300, floor: 'client CPU per direct spawn (process.cpuUsage)' },
    }),
  ];
  if (quick) return rows;
  const nodeRuns = 3;
  const nodeFake = [];
  for (let r = 0; r < nodeRuns; r++) {
    const result = await overheadRun({ fake: NODE_FAKE, calls: 40, warmup: 5 });
    nodeFake.push(result);
    log(`consult node run ${r + 1}: ${result.server.toFixed(1)} vs ${result.floor.toFixed(1)} ms`);
  }
  const ratio = acrossRuns(nodeFake.map((p) => p.ratio));
  rows.push(
    row({
      name: 'consult_overhead (node fake)',
      unit: 'ms',
      figure: acrossRuns(nodeFake.map((p) => p.server)),
      floor: acrossRuns(nodeFake.map((p) => p.floor)),
      compare: { kind: 'ratio', ...ratio },
      target: '≤ 1.05×',
      pass: ratio.median <= 1.05,
      detail: { runs: nodeRuns, calls: 40, client: 'raw', perRun: nodeFake },
    }),
  );
  return rows;
}
