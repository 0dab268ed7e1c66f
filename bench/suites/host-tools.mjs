// host_tool_rtt and host_tool_throughput: `tools/call health_snapshot` on phone-opus against the
// raw echo server, both driven by the raw JSON-RPC client (the SDK client's own validation would
// add ~the same per call to both sides and hide the server's cost).
import { callTool, now, pair, startEcho, startServer } from '../lib/env.mjs';
import { row } from '../lib/report.mjs';
import { acrossRuns, median } from '../lib/stats.mjs';

async function block(client, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const started = now();
    await callTool(client, 'health_snapshot');
    out.push((now() - started) * 1000);
  }
  return out;
}

/** `total` calls with `inFlight` outstanding at all times; calls per second. */
async function burst(client, total, inFlight) {
  let sent = 0;
  const started = now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (sent < total) {
        sent += 1;
        await callTool(client, 'health_snapshot');
      }
    }),
  );
  return total / ((now() - started) / 1000);
}

export async function hostTools({ quick, log }) {
  const runs = quick ? 2 : 5;
  const pairs = quick ? 3 : 5;
  const BLOCK = 200;
  const BURST = 1000;
  const IN_FLIGHT = 32;
  const rtt = [];
  const tput = [];
  for (let r = 0; r < runs; r++) {
    const server = await startServer();
    const echo = await startEcho();
    try {
      for (const side of [server, echo]) {
        await block(side.client, 500); // JIT warm-up
        await burst(side.client, BURST, IN_FLIGHT);
      }
      const a = [];
      const b = [];
      const ratios = [];
      for (let p = 0; p < pairs; p++) {
        const [x, y] = await pair(
          p,
          () => block(server.client, BLOCK),
          () => block(echo.client, BLOCK),
        );
        a.push(...x);
        b.push(...y);
        ratios.push(median(x) / median(y));
      }
      rtt.push({ server: median(a), floor: median(b), ratio: median(ratios) });
      const ta = [];
      const tb = [];
      const tr = [];
      for (let p = 0; p < pairs; p++) {
        const [x, y] = await pair(
          p,
          () => burst(server.client, BURST, IN_FLIGHT),
          () => burst(echo.client, BURST, IN_FLIGHT),
        );
        ta.push(x);
        tb.push(y);
        tr.push(x / y);
      }
      tput.push({ server: median(ta), floor: median(tb), ratio: median(tr) });
      log(
        `host tools run ${r + 1}: rtt ${median(a).toFixed(0)} µs vs ${median(b).toFixed(0)} µs; ${median(ta).toFixed(0)}/s vs ${median(tb).toFixed(0)}/s`,
      );
    } finally {
      await server.close();
      await echo.close();
    }
  }
  const rttFigure = acrossRuns(rtt.map((p) => p.server));
  const rttRatio = acrossRuns(rtt.map((p) => p.ratio));
  const tputFigure = acrossRuns(tput.map((p) => p.server));
  const tputRatio = acrossRuns(tput.map((p) => p.ratio));
  return [
    row({
      name: 'host_tool_rtt',
      unit: 'µs',
      figure: rttFigure,
      floor: acrossRuns(rtt.map((p) => p.floor)),
      compare: { kind: 'ratio', ...rttRatio },
      target: '≤ 3.0× raw echo and ≤ 300 µs',
      pass: rttRatio.median <= 3 && rttFigure.median <= 300,
      detail: { runs, pairs, block: BLOCK, client: 'raw', perRun: rtt },
    }),
    row({
      name: 'host_tool_throughput',
      unit: 'calls/s',
      figure: tputFigure,
      floor: acrossRuns(tput.map((p) => p.floor)),
      compare: { kind: 'ratio', ...tputRatio },
      target: '≥ 10k calls/s and ≥ 0.2× raw echo',
      pass: tputFigure.median >= 10_000 && tputRatio.median >= 0.2,
      detail: { runs, pairs, calls: BURST, inFlight: IN_FLIGHT, client: 'raw', perRun: tput },
    }),
  ];
}
