import { waitFor } from './proc.ts';
import type { TestServer } from './server.ts';
import { textOf } from './server.ts';

/** Prometheus text exposition, parsed into samples: `name{a="1",b="2"}` (labels sorted) → value. */
export type Samples = Map<string, number>;

export function parseExposition(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`unparseable exposition line: ${line}`);
    const [, name = '', rawLabels = '', value = ''] = match;
    const labels = [...rawLabels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(
      ([, k = '', v = '']) => [k, v] as [string, string],
    );
    samples.set(key(name, Object.fromEntries(labels)), Number(value));
  }
  return samples;
}

export function key(name: string, labels: Record<string, string> = {}): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0
    ? name
    : `${name}{${entries.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}

/** A sample's value, 0 when the series does not exist yet (counters start absent). */
export const value = (samples: Samples, name: string, labels: Record<string, string> = {}) =>
  samples.get(key(name, labels)) ?? 0;

export async function scrape(baseUrl: string): Promise<Samples> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parseExposition(await response.text());
}

export async function healthJson(server: TestServer): Promise<Record<string, unknown>> {
  const result = await server.call('health_snapshot', { render: 'json', detail: 'full' });
  return JSON.parse(textOf(result)) as Record<string, unknown>;
}

/** The health snapshot's `metrics` field once it is no longer `starting`. */
export async function metricsStatus(server: TestServer): Promise<string> {
  const health = await waitFor(
    () => healthJson(server),
    (h) => h['metrics'] !== 'starting',
    10_000,
    50,
  );
  return String(health['metrics']);
}

/** The endpoint's base URL (fails the test if metrics did not come up). */
export async function metricsUrl(server: TestServer): Promise<string> {
  const status = await metricsStatus(server);
  if (!status.startsWith('http://')) throw new Error(`metrics not served: ${status}`);
  return status;
}
