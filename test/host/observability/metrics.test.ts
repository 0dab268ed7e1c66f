import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics, shortVersion } from '../../../src/host/observability/metrics.ts';
import { parseExposition, value } from '../../support/metrics.ts';

describe('createMetrics', () => {
  it('records events and reads live state at scrape time, on a private registry', async () => {
    const live = { inFlight: 2, queued: 1, generation: 3, restarts: 2, replays: 1 };
    let claude: string | null = null;
    const sources = {
      version: '1.2.3',
      inFlight: () => live.inFlight,
      queued: () => live.queued,
      generation: () => live.generation,
      restarts: () => live.restarts,
      replays: () => live.replays,
      claudeVersion: () => claude,
      jobs: () => ({ running: 1, succeeded: 2 }),
    };
    const metrics = createMetrics(sources);
    createMetrics(sources); // a second instance must not clash (no global registry)
    metrics.request('tools/call:consult', 'ok', 1500);
    metrics.request('tools/call:consult', 'timeout', 1_900_000);
    metrics.consultUsage('opus', 0.5, { input: 10, output: 0 });
    metrics.consultUsage(null, null, { input: 1 });
    metrics.childKilled('timeout');
    let s = parseExposition(await metrics.render());
    assert.equal(
      value(s, 'phone_opus_requests_total', { method: 'tools/call:consult', outcome: 'ok' }),
      1,
    );
    const bucket = (le: string) =>
      value(s, 'phone_opus_request_duration_seconds_bucket', { method: 'tools/call:consult', le });
    assert.equal(bucket('1'), 0);
    assert.equal(bucket('2.5'), 1);
    assert.equal(bucket('1800'), 1);
    assert.equal(bucket('+Inf'), 2);
    assert.equal(value(s, 'phone_opus_consult_cost_usd_total', { model: 'opus' }), 0.5);
    assert.equal(value(s, 'phone_opus_tokens_total', { model: 'opus', type: 'input' }), 10);
    assert.equal(s.has('phone_opus_tokens_total{model="opus",type="output"}'), false);
    assert.equal(value(s, 'phone_opus_tokens_total', { model: 'unknown', type: 'input' }), 1);
    assert.equal(value(s, 'phone_opus_child_kills_total', { reason: 'timeout' }), 1);
    assert.equal(value(s, 'phone_opus_in_flight'), 2);
    assert.equal(value(s, 'phone_opus_queue_depth'), 1);
    assert.equal(value(s, 'phone_opus_worker_generation'), 3);
    assert.equal(value(s, 'phone_opus_worker_restarts_total'), 2);
    assert.equal(value(s, 'phone_opus_replays_total'), 1);
    assert.equal(value(s, 'phone_opus_jobs', { status: 'running' }), 1);
    assert.equal(value(s, 'phone_opus_jobs', { status: 'succeeded' }), 2);
    assert.equal(
      value(s, 'phone_opus_build_info', { version: '1.2.3', claude_version: 'unknown' }),
      1,
    );

    live.restarts = 3;
    claude = '2.1.197 (Claude Code)';
    s = parseExposition(await metrics.render());
    assert.equal(value(s, 'phone_opus_worker_restarts_total'), 3);
    assert.equal(
      value(s, 'phone_opus_build_info', { version: '1.2.3', claude_version: '2.1.197' }),
      1,
    );
    assert.equal(s.has('phone_opus_build_info{claude_version="unknown",version="1.2.3"}'), false);
  });

  it('shortens CLI versions to the version number', () => {
    assert.equal(shortVersion('2.1.197 (Claude Code)'), '2.1.197');
    assert.equal(shortVersion('v1.0.0-beta.2'), '1.0.0-beta.2');
    assert.equal(shortVersion('weird'), 'weird');
    assert.equal(shortVersion(null), 'unknown');
  });
});
