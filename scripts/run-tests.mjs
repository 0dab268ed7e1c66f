// Run every test/**/*.test.ts with node:test under tsx (Node 20 has no glob for --test).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const only = process.argv.slice(2);
const files = readdirSync('test', { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join('test', f))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
// The reporter is named: Node 20 and 22 pick TAP when stdout is not a terminal, Node 24 picks
// `spec` there too, and CI reads the totals from TAP's closing `# pass N` / `# fail N` lines.
const reporter = process.stdout.isTTY ? 'spec' : 'tap';
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-reporter=${reporter}`,
    '--test-concurrency=2',
    '--test-timeout=180000',
    ...files,
  ],
  { stdio: 'inherit' },
);
// Which Node ran the tests (scripts/ci.mjs checks it): a TAP comment after the totals.
process.stdout.write(`# node ${process.version} ${process.execPath}\n`);
process.exit(result.status ?? 1);
