// `node scripts/ci.mjs [VERSION…]`: the whole suite (`npm test`: typecheck, lint, build, every
// test) once per supported Node: the machine's own and each of PINNED_NODE_VERSIONS
// (scripts/node-versions.mjs), one after the other, each with its `node` first on PATH so that
// npm, the build, the test runner and everything the tests spawn (`process.execPath`, the fake
// CLI's `#!/usr/bin/env node`) run on it. Expects `npm ci` to have run (.ci/run does it once:
// the dependencies are plain JavaScript plus esbuild's platform binary, which any Node runs).
// VERSION arguments keep only the versions that start with them (`22`, `24.22`, `20`).
// Prints a header per version and a summary line per version; exits 1 if any version failed.
import { spawn, spawnSync } from 'node:child_process';
import { delimiter, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNode, PINNED_NODE_VERSIONS } from './node-versions.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** A suite normally takes 3–4 minutes; past this it is stuck (the CI job has 90 minutes). */
const SUITE_TIMEOUT_MS = 25 * 60_000;

const started = performance.now();
const say = (line) => process.stdout.write(`${line}\n`);
const minutes = (ms) => {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
};
const rule = (title) =>
  say(`\n${'═'.repeat(4)} ${title} ${'═'.repeat(Math.max(4, 90 - title.length))}`);

const filters = process.argv.slice(2).map((v) => v.replace(/^v/, ''));
const machine = { version: process.versions.node, bin: process.execPath, origin: 'machine' };
const targets = [
  machine,
  ...PINNED_NODE_VERSIONS.filter((v) => v !== machine.version).map((version) => ({
    version,
    bin: null,
    origin: 'npm registry',
  })),
].filter((t) => filters.length === 0 || filters.some((f) => t.version.startsWith(f)));
if (targets.length === 0) {
  say(`ci: no Node version matches ${filters.join(' ')}`);
  process.exit(2);
}

const pathWith = (bin) => [dirname(bin), process.env.PATH ?? ''].join(delimiter);

/** `npm version --json` run with `bin` first on PATH: the versions npm itself runs on. */
function npmVersions(bin) {
  const result = spawnSync('npm', ['version', '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, PATH: pathWith(bin) },
  });
  try {
    return result.status === 0 ? JSON.parse(result.stdout) : null;
  } catch {
    return null;
  }
}

/** Run `npm test` with `bin`'s directory first on PATH; resolves with what the run reported. */
function runSuite(bin) {
  const env = { ...process.env, PATH: pathWith(bin) };
  return new Promise((resolve) => {
    // Its own process group, so that a stuck suite can be stopped as a whole.
    const child = spawn('npm', ['test'], {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const counts = {};
    let ranOn = null;
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      process.stdout.write(chunk);
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const count = /^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(line);
        if (count) counts[count[1]] = Number(count[2]);
        const node = /^# node (v\S+)/.exec(line);
        if (node) ranOn = node[1];
      }
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, SUITE_TIMEOUT_MS);
    let interrupted = false;
    const forward = (signal) => {
      interrupted = true;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    process.on('SIGINT', forward).on('SIGTERM', forward);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      process.off('SIGINT', forward).off('SIGTERM', forward);
      resolve({ code, signal, timedOut, interrupted, counts, ranOn });
    });
  });
}

rule(`phone-opus CI: npm test on Node ${targets.map((t) => t.version).join(', ')}`);
// Every binary first, so that a registry problem shows at once and durations are the suites'.
for (const target of targets) {
  try {
    target.bin ??= ensureNode(target.version, { log: say });
    const versions = npmVersions(target.bin);
    if (versions?.node !== target.version) {
      throw new Error(
        `npm does not run on it (${versions ? `npm reports Node ${versions.node}` : 'npm version failed'})`,
      );
    }
    say(`Node ${target.version}: ${target.bin}, npm ${versions.npm}`);
  } catch (error) {
    target.error = String(error.message ?? error);
    say(`Node ${target.version}: ${target.error}`);
  }
}

const results = [];
let interrupted = false;
for (const [index, target] of targets.entries()) {
  if (interrupted) break;
  rule(`Node ${target.version} (${target.origin}) · ${index + 1} of ${targets.length}`);
  const result = { version: target.version, origin: target.origin, ok: false, ms: 0, note: '' };
  results.push(result);
  if (target.error !== undefined) {
    result.note = target.error;
  } else {
    say(`node ${target.bin}\n`);
    const clock = performance.now();
    const run = await runSuite(target.bin);
    result.ms = performance.now() - clock;
    interrupted = run.interrupted;
    const { counts } = run;
    const tally =
      counts.pass === undefined
        ? 'no test totals seen'
        : `${counts.pass}/${counts.tests} tests passed${counts.fail ? `, ${counts.fail} failed` : ''}${counts.cancelled ? `, ${counts.cancelled} cancelled` : ''}`;
    if (run.timedOut) result.note = `stopped after ${minutes(SUITE_TIMEOUT_MS)}; ${tally}`;
    else if (run.code !== 0) result.note = `npm test exited ${run.code ?? run.signal}; ${tally}`;
    else if (run.ranOn !== `v${target.version}`)
      result.note = `tests ran on ${run.ranOn ?? 'an unknown Node'}, not v${target.version}`;
    else {
      result.ok = true;
      result.note = tally;
    }
  }
  say(
    `\nNode ${target.version}: ${result.ok ? 'PASS' : 'FAIL'} in ${minutes(result.ms)} (${result.note})`,
  );
}

rule('phone-opus CI summary');
for (const r of results) {
  say(
    `Node ${r.version.padEnd(8)} ${r.ok ? 'pass' : 'FAIL'}  ${minutes(r.ms).padStart(7)}  ${r.origin.padEnd(12)}  ${r.note}`,
  );
}
const failed = results.filter((r) => !r.ok);
say(
  `${failed.length === 0 && !interrupted ? 'PASS' : 'FAIL'}: ${results.filter((r) => r.ok).length} of ${targets.length} Node versions passed in ${minutes(performance.now() - started)}${failed.length ? ` (failed: ${failed.map((r) => r.version).join(', ')})` : ''}`,
);
process.exit(failed.length === 0 && !interrupted ? 0 : 1);
