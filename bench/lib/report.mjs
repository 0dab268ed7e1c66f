// Rows, the results table (markdown, for stdout and docs/benchmarks.md) and machine facts.
import { cpus, loadavg, release, totalmem } from 'node:os';

/**
 * One table row. `figure`/`floor`/`compare` are `acrossRuns` values (median of run values with
 * their [min..max]); `compare.kind` is 'ratio' (figure ÷ floor, pair by pair) or 'diff'.
 */
export function row({ name, unit, figure, floor = null, compare = null, target, pass, detail }) {
  return { name, unit, figure, floor, compare, target, pass, detail };
}

/** Three significant digits, no exponent. */
export function num(value) {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

const spread = (s) => (s.runs.length > 1 ? ` [${num(s.min)}..${num(s.max)}]` : '');

export function cell(stat, unit) {
  if (stat === null || stat === undefined) return '—';
  const suffix = unit === '×' ? '×' : ` ${unit}`;
  return `${num(stat.median)}${suffix}${spread(stat)}`;
}

function compareCell(row) {
  const c = row.compare;
  if (c === null) return '—';
  if (c.kind === 'ratio') return `${num(c.median)}×${spread(c)}`;
  const sign = c.median >= 0 ? '+' : '';
  return `${sign}${num(c.median)} ${c.unit ?? row.unit}${spread(c)}`;
}

const verdict = (pass) => (pass === null ? 'info' : pass ? 'pass' : '**miss**');

export function table(rows) {
  const lines = [
    '| benchmark | figure | floor | ratio / diff | target | result |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    if (r.error !== undefined) {
      lines.push(`| ${r.name} | error: ${r.error} | | | | **error** |`);
      continue;
    }
    lines.push(
      `| ${r.name} | ${cell(r.figure, r.unit)} | ${cell(r.floor, r.floorUnit ?? r.unit)} | ${compareCell(r)} | ${r.target} | ${verdict(r.pass)} |`,
    );
  }
  return lines.join('\n');
}

export function machine() {
  const list = cpus();
  return {
    cpu_model: list[0]?.model ?? 'unknown',
    cores: list.length,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    loadavg: loadavg().map((l) => Number(l.toFixed(2))),
  };
}
