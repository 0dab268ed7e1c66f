// cold_init: spawn → `initialize` result with the SDK Client (what an MCP client sees), against
// `node -e 0` spawned the same way (spawn → exit), alternating A B / B A per iteration.
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BIN, now, pair, sandbox } from '../lib/env.mjs';
import { row } from '../lib/report.mjs';
import { acrossRuns, median } from '../lib/stats.mjs';

async function serverInit(box) {
  const started = now();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN],
    env: box.env,
    cwd: box.dir,
    stderr: 'ignore',
  });
  const client = new Client({ name: 'phone-opus-bench', version: '0.0.0' });
  await client.connect(transport);
  const ms = now() - started;
  await client.close(); // stdin EOF; waits for the server to exit, so runs do not overlap
  return ms;
}

function bareNode(box) {
  return new Promise((resolve, reject) => {
    const started = now();
    const child = spawn(process.execPath, ['-e', '0'], {
      env: box.env,
      cwd: box.dir,
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    child.once('error', reject);
    child.once('exit', () => resolve(now() - started));
  });
}

export async function coldInit({ quick, log }) {
  const runs = quick ? 1 : 5;
  const iterations = quick ? 8 : 10;
  const box = sandbox();
  const perRun = [];
  try {
    await serverInit(box); // warm the file cache
    await bareNode(box);
    for (let r = 0; r < runs; r++) {
      const server = [];
      const floor = [];
      const ratios = [];
      for (let i = 0; i < iterations; i++) {
        const [a, b] = await pair(
          i,
          () => serverInit(box),
          () => bareNode(box),
        );
        server.push(a);
        floor.push(b);
        ratios.push(a / b);
      }
      perRun.push({ server: median(server), floor: median(floor), ratio: median(ratios) });
      log(
        `cold_init run ${r + 1}: ${median(server).toFixed(1)} ms vs ${median(floor).toFixed(1)} ms`,
      );
    }
  } finally {
    box.remove();
  }
  const ratio = acrossRuns(perRun.map((p) => p.ratio));
  return [
    row({
      name: 'cold_init',
      unit: 'ms',
      figure: acrossRuns(perRun.map((p) => p.server)),
      floor: acrossRuns(perRun.map((p) => p.floor)),
      compare: { kind: 'ratio', ...ratio },
      target: '≤ 2.2× `node -e 0`',
      pass: ratio.median <= 2.2,
      detail: { runs, iterations, client: 'sdk', perRun },
    }),
  ];
}
