// cold_init: spawn → `initialize` result with the SDK Client (what an MCP client sees), against
// `node -e 0` spawned the same way (spawn → exit), alternating A B / B A per iteration.
// cold_init_nodes: the same on every supported Node, with and without the compile cache.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ensureNode, PINNED_NODE_VERSIONS } from '../../scripts/node-versions.mjs';
import { BIN, now, pair, sandbox } from '../lib/env.mjs';
import { cpuMs } from '../lib/proc.mjs';
import { row } from '../lib/report.mjs';
import { acrossRuns, median } from '../lib/stats.mjs';

async function serverInit(box, node = process.execPath, env = box.env) {
  return (await serverStart(box, node, env)).ms;
}

/** Spawn → `initialize` answered: wall ms, and the server's CPU ms (/proc, 10 ms ticks) by then. */
async function serverStart(box, node, env) {
  const started = now();
  const transport = new StdioClientTransport({
    command: node,
    args: [BIN],
    env,
    cwd: box.dir,
    stderr: 'ignore',
  });
  const client = new Client({ name: 'phone-opus-bench', version: '0.0.0' });
  await client.connect(transport);
  const ms = now() - started;
  const cpu = cpuMs(transport.pid);
  await client.close(); // stdin EOF; waits for the server to exit, so runs do not overlap
  return { ms, cpu };
}

function bareNode(box, node = process.execPath) {
  return new Promise((resolve, reject) => {
    const started = now();
    const child = spawn(node, ['-e', '0'], {
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

/**
 * cold_init_nodes: spawn → `initialize` on the machine's Node and each pinned one
 * (scripts/node-versions.mjs, fetched into the CI cache when missing). Per Node, in rounds that
 * rotate the order of the Node versions and of the arms inside each: the server without the
 * compile cache (NODE_DISABLE_COMPILE_CACHE=1), with a warm cache (the steady state), with an
 * empty one (the first start after an install or upgrade, which also writes the cache on
 * exit), and `node -e 0`. Node 20 has no compile cache: only "off" and the floor.
 */
export async function coldInitNodes({ quick, log }) {
  const runs = quick ? 1 : 2;
  const iterations = quick ? 5 : 10;
  const nodes = [
    { version: process.versions.node, bin: process.execPath },
    ...PINNED_NODE_VERSIONS.filter((v) => v !== process.versions.node).map((version) => ({
      version,
      bin: ensureNode(version, { log }),
    })),
  ];
  const box = sandbox();
  let fresh = 0;
  const arms = (node) => {
    const off = { ...box.env, NODE_DISABLE_COMPILE_CACHE: '1' };
    const list = {
      off: () => serverStart(box, node.bin, off),
      floor: async () => ({ ms: await bareNode(box, node.bin) }),
    };
    if (Number(node.version.split('.')[0]) >= 22) {
      list.warm = () => serverStart(box, node.bin, box.env);
      list.first = () => {
        fresh += 1;
        return serverStart(box, node.bin, {
          ...box.env,
          XDG_CACHE_HOME: join(box.dir, `empty-cache-${fresh}`),
        });
      };
    }
    return list;
  };
  const samples = new Map(nodes.map((n) => [n.version, []]));
  try {
    for (const node of nodes) {
      for (const run of Object.values(arms(node))) await run(); // file cache; warm compile cache
    }
    for (let r = 0; r < runs; r++) {
      const perNode = new Map(nodes.map((n) => [n.version, []]));
      for (let i = 0; i < iterations; i++) {
        for (let k = 0; k < nodes.length; k++) {
          const node = nodes[(i + k) % nodes.length];
          const entries = Object.entries(arms(node));
          const sample = {};
          for (let a = 0; a < entries.length; a++) {
            const [arm, run] = entries[(i + a) % entries.length];
            const { ms, cpu } = await run();
            sample[arm] = ms;
            if (cpu !== undefined) sample[`${arm}_cpu`] = cpu;
          }
          perNode.get(node.version).push(sample);
        }
      }
      for (const node of nodes) {
        const list = perNode.get(node.version);
        samples.get(node.version).push(list);
        const m = (key) =>
          list[0][key] === undefined ? '—' : median(list.map((s) => s[key])).toFixed(1);
        log(
          `cold_init_nodes run ${r + 1}, Node ${node.version}: off ${m('off')} ms (cpu ${m('off_cpu')}), warm ${m('warm')} (cpu ${m('warm_cpu')}), first ${m('first')} (cpu ${m('first_cpu')}), node -e 0 ${m('floor')}`,
        );
      }
    }
  } finally {
    box.remove();
  }
  const rows = [];
  for (const node of nodes) {
    const perRun = samples.get(node.version);
    const arm = (name) => acrossRuns(perRun.map((list) => median(list.map((s) => s[name]))));
    const ratio = (a, b) => acrossRuns(perRun.map((list) => median(list.map((s) => s[a] / s[b]))));
    // Every sample of every run: the medians the per-Node table in docs/benchmarks.md shows.
    const flat = perRun.flat();
    const medians = Object.fromEntries(
      Object.keys(flat[0]).map((key) => [key, median(flat.map((s) => s[key]))]),
    );
    const detail = { runs, iterations, samples: flat.length, medians, perRun };
    rows.push(
      row({
        name: `cold_init_nodes: Node ${node.version}, no compile cache`,
        unit: 'ms',
        figure: arm('off'),
        floor: arm('floor'),
        compare: { kind: 'ratio', ...ratio('off', 'floor') },
        target: 'report (floor: `node -e 0`)',
        pass: null,
        detail,
      }),
    );
    if (perRun[0][0].warm === undefined) continue;
    rows.push(
      row({
        name: `cold_init_nodes: Node ${node.version}, warm compile cache`,
        unit: 'ms',
        figure: arm('warm'),
        floor: arm('off'),
        compare: { kind: 'ratio', ...ratio('warm', 'off') },
        target: '< 1× no cache (floor)',
        pass: ratio('warm', 'off').median < 1,
        detail,
      }),
      row({
        name: `cold_init_nodes: Node ${node.version}, first start (empty cache)`,
        unit: 'ms',
        figure: arm('first'),
        floor: arm('off'),
        compare: { kind: 'ratio', ...ratio('first', 'off') },
        target: 'report (once per install)',
        pass: null,
        detail,
      }),
    );
  }
  return rows;
}
