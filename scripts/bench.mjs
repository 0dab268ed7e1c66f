// `npm run bench [-- --quick] [-- --only NAME,…] [-- --write-doc] [-- --strict] [-- --no-build]`
// (`--only cold_init_nodes`: cold start on Node 20, 22 and 24, with and without the compile cache)
// Runs the benchmark suite of shared/docs/performance.md §8 against the built server: every
// figure next to a floor measured in the same run, interleaved. Prints a table, writes
// .bench/results-*.json (and .md); with --write-doc (full runs only) also docs/benchmarks.md,
// which says what each row measures and how to reproduce it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchmarksDoc, FINDINGS_HEADING } from '../bench/lib/doc.mjs';
import { ROOT } from '../bench/lib/env.mjs';
import { machine, table } from '../bench/lib/report.mjs';
import { concurrency } from '../bench/suites/concurrency.mjs';
import { consultOverhead } from '../bench/suites/consult.mjs';
import { faults } from '../bench/suites/faults.mjs';
import { hostTools } from '../bench/suites/host-tools.mjs';
import { jobs } from '../bench/suites/jobs.mjs';
import { memory } from '../bench/suites/memory.mjs';
import { peer } from '../bench/suites/peer.mjs';
import { coldInit, coldInitNodes } from '../bench/suites/startup.mjs';

const SUITES = {
  cold_init: coldInit,
  host_tools: hostTools,
  consult: consultOverhead,
  concurrency,
  memory,
  faults,
  jobs,
  peer,
  cold_init_nodes: coldInitNodes,
};
/** Run only when named with --only: cold_init_nodes fetches Node binaries from the registry. */
const ON_REQUEST = new Set(['cold_init_nodes']);

function parseArgs(argv) {
  const options = { quick: false, only: null, writeDoc: false, strict: false, build: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      console.log(
        `usage: npm run bench [-- --quick] [--only ${Object.keys(SUITES).join(',')}] [--write-doc] [--strict] [--no-build]`,
      );
      process.exit(0);
    } else if (arg === '--quick') options.quick = true;
    else if (arg === '--write-doc') options.writeDoc = true;
    else if (arg === '--strict') options.strict = true;
    else if (arg === '--no-build') options.build = false;
    else if (arg === '--only') options.only = (argv[++i] ?? '').split(',');
    else if (arg.startsWith('--only=')) options.only = arg.slice(7).split(',');
    else {
      console.error(`bench: unknown option ${arg}; suites: ${Object.keys(SUITES).join(', ')}`);
      process.exit(2);
    }
  }
  for (const name of options.only ?? []) {
    if (!(name in SUITES)) {
      console.error(`bench: unknown suite ${name}; suites: ${Object.keys(SUITES).join(', ')}`);
      process.exit(2);
    }
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
if (options.build) {
  const built = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const startedAt = new Date();
const clock = performance.now();
const machineBefore = machine();
const log = (line) =>
  process.stderr.write(`[${((performance.now() - clock) / 1000).toFixed(1)} s] ${line}\n`);
log(
  `phone-opus bench (${options.quick ? 'quick' : 'full'}) on ${machineBefore.cores} × ${machineBefore.cpu_model}, node ${machineBefore.node}, load ${machineBefore.loadavg.join(' ')}`,
);

const rows = [];
for (const [name, suite] of Object.entries(SUITES)) {
  if (options.only === null ? ON_REQUEST.has(name) : !options.only.includes(name)) continue;
  try {
    rows.push(...(await suite({ quick: options.quick, log })));
  } catch (error) {
    log(`${name} failed: ${error.stack ?? error}`);
    rows.push({ name, error: String(error.message ?? error).split('\n')[0] });
  }
}

const elapsedS = (performance.now() - clock) / 1000;
const results = {
  date: startedAt.toISOString(),
  mode: options.quick ? 'quick' : 'full',
  suites: options.only ?? Object.keys(SUITES).filter((name) => !ON_REQUEST.has(name)),
  elapsed_s: Number(elapsedS.toFixed(1)),
  machine: { ...machineBefore, loadavg_after: machine().loadavg },
  rows,
};
const markdown = table(rows);
process.stdout.write(`\n${markdown}\n\n`);
log(`done in ${elapsedS.toFixed(0)} s`);

const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
const outDir = join(ROOT, '.bench');
mkdirSync(outDir, { recursive: true });
const jsonFile = join(outDir, `results-${stamp}.json`);
writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(outDir, `results-${stamp}.md`), `${markdown}\n`);
log(`results: ${jsonFile}`);
if (options.writeDoc) {
  if (options.quick || options.only !== null) {
    log('--write-doc ignored: docs/benchmarks.md holds full runs only');
  } else {
    const docFile = join(ROOT, 'docs/benchmarks.md');
    // Hand-written findings below the generated part survive a rewrite.
    const previous = existsSync(docFile) ? readFileSync(docFile, 'utf8') : '';
    const at = previous.indexOf(FINDINGS_HEADING);
    const findings = at === -1 ? '' : `\n${previous.slice(at)}`;
    writeFileSync(docFile, `${benchmarksDoc(results, markdown)}${findings}`);
    log('wrote docs/benchmarks.md');
  }
}
const failed = rows.some((r) => r.error !== undefined);
const missed = rows.some((r) => r.pass === false);
process.exit(failed || (options.strict && missed) ? 1 : 0);
