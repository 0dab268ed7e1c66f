import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pkg from '../../package.json' with { type: 'json' };
import { fake } from '../support/fake.ts';
import {
  healthJson,
  metricsStatus,
  metricsUrl,
  type Samples,
  scrape,
  value,
} from '../support/metrics.ts';
import { waitFor } from '../support/proc.ts';
import { startTestServer } from '../support/server.ts';

const CONSULT = 'tools/call:consult';

describe('Prometheus endpoint', () => {
  it('counts successes, failures, a cancel and a crash with replay', async (t) => {
    const server = await startTestServer(t, {
      env: {
        PHONE_OPUS_METRICS_PORT: '0',
        PHONE_OPUS_CONSULT_REPLAY: 'convergent',
        PHONE_OPUS_MCP_TEST_WORKER_CRASH_ONCE_KEY: CONSULT,
      },
    });
    const url = await metricsUrl(server);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);

    // The first consult's thread dies after spawning the CLI: the group is killed, the
    // consult replayed (convergent) and answered.
    const crashed = await server.call('consult', { prompt: fake({ sleep_ms: 1500 }) });
    assert.equal(crashed.isError, undefined);
    const ok = await server.call('consult', { prompt: fake({ result: 'fine' }) });
    assert.equal(ok.isError, undefined);
    const failed = await server.call('consult', {
      prompt: fake({ is_error: true, api_error_status: 500 }),
    });
    assert.equal(failed.isError, true);

    const abort = new AbortController();
    const runsBefore = server.cliLog().length;
    const cancelled = server.call(
      'consult',
      { prompt: fake({ sleep_ms: 5000 }) },
      { signal: abort.signal },
    );
    await waitFor(
      () => server.cliLog().length,
      (n) => n > runsBefore,
    );
    abort.abort();
    await assert.rejects(cancelled);

    const samples = await waitFor(
      () => scrape(url),
      (s) =>
        value(s, 'phone_opus_requests_total', { method: CONSULT, outcome: 'cancelled' }) === 1 &&
        value(s, 'phone_opus_child_kills_total', { reason: 'cancelled' }) === 1 &&
        value(s, 'phone_opus_build_info', { version: pkg.version, claude_version: '9.9.9' }) === 1,
    );
    const v = (name: string, labels: Record<string, string> = {}) => value(samples, name, labels);
    assert.equal(v('phone_opus_requests_total', { method: CONSULT, outcome: 'ok' }), 2);
    assert.equal(v('phone_opus_requests_total', { method: CONSULT, outcome: 'error' }), 1);
    assert.equal(v('phone_opus_requests_total', { method: CONSULT, outcome: 'cancelled' }), 1);
    assert.equal(v('phone_opus_requests_total', { method: CONSULT, outcome: 'timeout' }), 0);
    assert.equal(v('phone_opus_requests_total', { method: 'initialize', outcome: 'ok' }), 1);
    assert.equal(v('phone_opus_request_duration_seconds_count', { method: CONSULT }), 4);
    assert.equal(
      v('phone_opus_request_duration_seconds_bucket', { method: CONSULT, le: '1800' }),
      4,
    );
    assert.ok(v('phone_opus_request_duration_seconds_sum', { method: CONSULT }) > 1.5);
    assert.ok(
      Math.abs(v('phone_opus_consult_cost_usd_total', { model: 'claude-fake-1' }) - 0.0246) < 1e-9,
    );
    assert.equal(v('phone_opus_tokens_total', { model: 'claude-fake-1', type: 'input' }), 200);
    assert.equal(v('phone_opus_tokens_total', { model: 'claude-fake-1', type: 'output' }), 40);
    assert.equal(v('phone_opus_worker_generation'), 2);
    assert.equal(v('phone_opus_worker_restarts_total'), 1);
    assert.equal(v('phone_opus_replays_total'), 1);
    assert.equal(v('phone_opus_child_kills_total', { reason: 'thread_lost' }), 1);
    assert.equal(v('phone_opus_child_kills_total', { reason: 'cancelled' }), 1);
    assert.equal(v('phone_opus_in_flight'), 0);
    assert.equal(v('phone_opus_queue_depth'), 0);
    assertDefaultMetrics(samples);
  });

  it('serves /healthz as the health snapshot (json, full) and refuses other routes', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_METRICS_PORT: '0' } });
    const url = await metricsUrl(server);
    // The CLI's version probe runs at start: let it finish, or the two views may straddle it.
    await waitFor(
      () => healthJson(server),
      (h) => h['claude'] !== null,
    );
    const response = await fetch(`${url}/healthz`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const healthz = (await response.json()) as Record<string, unknown>;
    const tool = await healthJson(server);
    delete healthz['uptime_ms'];
    delete tool['uptime_ms'];
    assert.deepEqual(healthz, tool);
    assert.equal(healthz['metrics'], url);
    assert.equal(healthz['telemetry_log'], join(server.stateDir, 'mcp', 'telemetry.jsonl'));

    assert.equal((await fetch(`${url}/nope`)).status, 404);
    assert.equal((await fetch(`${url}/metrics`, { method: 'POST' })).status, 405);
    const metrics = await fetch(`${url}/metrics`);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  });

  it('keeps serving MCP when the port is taken, says why once on stderr and in health', async (t) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const address = blocker.address();
    assert.ok(typeof address === 'object' && address !== null);
    const port = address.port;
    const server = await startTestServer(t, { env: { PHONE_OPUS_METRICS_PORT: String(port) } });
    const status = await metricsStatus(server);
    assert.equal(status, `error: listen EADDRINUSE 127.0.0.1:${port}`);
    const result = await server.call('consult', { prompt: fake({ result: 'still here' }) });
    assert.equal(result.isError, undefined);
    const full = await server.call('health_snapshot', { detail: 'full' });
    assert.match(
      String((full.content[0] as { text: string }).text),
      /\nmetrics: error: listen EADDRINUSE/,
    );
    const lines = server
      .stderr()
      .split('\n')
      .filter((l) => /metrics/i.test(l));
    assert.equal(lines.length, 1, server.stderr());
    assert.match(lines[0] ?? '', /EADDRINUSE 127\.0\.0\.1:\d+.*MCP keeps serving/);
    assert.equal(existsSync(join(server.stateDir, 'prometheus', `${server.pid}.json`)), false);
  });

  it('is off unless PHONE_OPUS_METRICS_PORT is set', async (t) => {
    const server = await startTestServer(t);
    const health = await healthJson(server);
    assert.equal(health['metrics'], 'off');
    assert.equal(existsSync(join(server.stateDir, 'prometheus')), false);
  });
});

function assertDefaultMetrics(samples: Samples): void {
  for (const name of [
    'process_cpu_user_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds',
    'nodejs_heap_size_used_bytes',
  ]) {
    assert.ok(
      [...samples.keys()].some((k) => k === name || k.startsWith(`${name}{`)),
      `default metric ${name}`,
    );
  }
}
