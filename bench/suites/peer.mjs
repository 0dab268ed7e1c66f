// peer: phone-opus side by side with @steipete/claude-code-mcp (a devDependency used only here),
// the most used peer, which spawns `claude --dangerously-skip-permissions -p PROMPT` directly
// (no process group, guard, tracking, stream parsing or records). Both run the sh fake (the
// peer finds it through CLAUDE_CLI_NAME), each driven by the raw client; a third column is the
// client spawning the fake itself. peer_concurrent: wall time of 4 simultaneous consults of a
// fake sleeping 1 s (phone-opus at its default cap of 4). peer_consult_wall and peer_host_cpu:
// one consult at a time, the server's CPU (/proc, all threads) per consult.
import { createRequire } from 'node:module';
import { callTool, consult, now, runDirect, SH_FAKE, startServer } from '../lib/env.mjs';
import { cpuMs } from '../lib/proc.mjs';
import { row } from '../lib/report.mjs';
import { acrossRuns, median } from '../lib/stats.mjs';

const PEER = createRequire(import.meta.url).resolve('@steipete/claude-code-mcp/dist/server.js');

const startPeer = () => startServer({ script: PEER, env: { CLAUDE_CLI_NAME: SH_FAKE } });

async function peerConsult(peer, prompt) {
  const result = await callTool(peer.client, 'claude_code', { prompt, workFolder: peer.dir });
  if (result.isError || !String(result.content?.[0]?.text).includes('"type":"result"'))
    throw new Error(`peer consult failed: ${JSON.stringify(result).slice(0, 200)}`);
}

const wall = async (jobs) => {
  const started = now();
  await Promise.all(jobs());
  return now() - started;
};

export async function peer({ quick, log }) {
  const runs = quick ? 1 : 3;
  const reps = quick ? 3 : 5;
  const sequential = quick ? 40 : 150;
  const ours = await startServer();
  const theirs = await startPeer();
  const concurrent = [];
  const walls = [];
  const cpus = [];
  try {
    // Threads and caches warm on both sides first.
    await Promise.all(Array.from({ length: 4 }, () => consult(ours.client, 'sleep=0.2')));
    await Promise.all(Array.from({ length: 4 }, () => peerConsult(theirs, 'sleep=0.2')));
    const sides = {
      ours: (prompt) => consult(ours.client, prompt),
      peer: (prompt) => peerConsult(theirs, prompt),
      direct: (prompt) => runDirect({ prompt, env: ours.env, cwd: ours.dir }),
    };
    const names = Object.keys(sides);
    for (let run = 0; run < runs; run++) {
      for (let rep = 0; rep < reps; rep++) {
        const times = {};
        // Rotate which side goes first.
        for (let k = 0; k < names.length; k++) {
          const name = names[(rep + k) % names.length];
          times[name] = await wall(() => Array.from({ length: 4 }, () => sides[name]('sleep=1')));
        }
        concurrent.push(times);
      }
      const perCall = { ours: [], peer: [], direct: [] };
      const cpu = { ours: 0, peer: 0 };
      for (let i = 0; i < sequential; i++) {
        for (let k = 0; k < names.length; k++) {
          const name = names[(i + k) % names.length];
          const pid = name === 'ours' ? ours.pid : name === 'peer' ? theirs.pid : undefined;
          const before = pid === undefined ? 0 : cpuMs(pid);
          const started = now();
          await sides[name]('bench');
          perCall[name].push(now() - started);
          if (pid !== undefined) cpu[name] += cpuMs(pid) - before;
        }
      }
      walls.push({
        ours: median(perCall.ours),
        peer: median(perCall.peer),
        direct: median(perCall.direct),
      });
      cpus.push({ ours: cpu.ours / sequential, peer: cpu.peer / sequential });
      const last = concurrent.slice(-reps);
      log(
        `peer run ${run + 1}: 4 × 1 s ours ${median(last.map((t) => t.ours)).toFixed(0)} ms, peer ${median(last.map((t) => t.peer)).toFixed(0)} ms, direct ${median(last.map((t) => t.direct)).toFixed(0)} ms; one consult ours ${walls.at(-1).ours.toFixed(1)} ms, peer ${walls.at(-1).peer.toFixed(1)} ms; cpu ours ${cpus.at(-1).ours.toFixed(2)} ms, peer ${cpus.at(-1).peer.toFixed(2)} ms`,
      );
    }
  } finally {
    await ours.close();
    await theirs.close();
  }
  const byRun = (values, size) =>
    Array.from({ length: values.length / size }, (_, r) => values.slice(r * size, r * size + size));
  const runsOf = byRun(concurrent, reps);
  const concurrentRatio = acrossRuns(runsOf.map((rs) => median(rs.map((t) => t.ours / t.peer))));
  const wallDiff = acrossRuns(walls.map((w) => w.ours - w.peer));
  const cpuRatio = acrossRuns(cpus.map((c) => c.ours / c.peer));
  return [
    row({
      name: 'peer_concurrent (4 × 1 s consults)',
      unit: 'ms',
      figure: acrossRuns(runsOf.map((rs) => median(rs.map((t) => t.ours)))),
      floor: acrossRuns(runsOf.map((rs) => median(rs.map((t) => t.peer)))),
      compare: { kind: 'ratio', ...concurrentRatio },
      target: '≤ 1.0× the peer',
      pass: concurrentRatio.median <= 1,
      detail: { direct: acrossRuns(runsOf.map((rs) => median(rs.map((t) => t.direct)))), reps },
    }),
    row({
      name: 'peer_consult_wall (one at a time)',
      unit: 'ms',
      figure: acrossRuns(walls.map((w) => w.ours)),
      floor: acrossRuns(walls.map((w) => w.peer)),
      compare: { kind: 'diff', ...wallDiff },
      target: 'report (direct spawn in detail)',
      pass: null,
      detail: { direct: acrossRuns(walls.map((w) => w.direct)), sequential },
    }),
    row({
      name: 'peer_host_cpu (per consult)',
      unit: 'ms',
      figure: acrossRuns(cpus.map((c) => c.ours)),
      floor: acrossRuns(cpus.map((c) => c.peer)),
      compare: { kind: 'ratio', ...cpuRatio },
      target: 'report',
      pass: null,
      detail: { sequential },
    }),
  ];
}
