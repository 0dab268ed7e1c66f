import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { structured } from '../support/fake.ts';
import { FAKE_CLAUDE } from '../support/paths.ts';
import { waitFor } from '../support/proc.ts';
import { faultOf, startTestServer, textOf } from '../support/server.ts';

describe('health_snapshot', () => {
  it('describes a fresh server, then a working one, in every rendering', async (t) => {
    const server = await startTestServer(t);
    assert.equal(
      textOf(await server.call('health_snapshot')),
      'cold gen=1 threads=0/0 in_flight=0 queued=0 worker=none',
    );
    const full = await waitFor(
      async () =>
        structured(await server.call('health_snapshot', { render: 'json', detail: 'full' })),
      (h) => h['claude'] !== null,
    );
    assert.deepEqual(Object.keys(full).sort(), [
      'circuit',
      'claude',
      'consecutive_failures',
      'containment',
      'generation',
      'host_code_changed',
      'in_flight',
      'jobs',
      'last_fault',
      'max_concurrency',
      'metrics',
      'queued',
      'restart_count',
      'rollout',
      'state',
      'telemetry_log',
      'threads',
      'uptime_ms',
    ]);
    assert.deepEqual(full['jobs'], { queued: 0, running: 0, retained: 0 });
    assert.deepEqual(full['claude'], {
      path: FAKE_CLAUDE,
      version: '9.9.9 (Fake Claude Code)',
      reason: null,
    });
    // The strongest containment this machine offers; a fallback always says why.
    const containment = full['containment'] as { mode: string; reason?: string };
    assert.ok(
      containment.mode === 'pid_namespace'
        ? containment.reason === undefined
        : containment.mode === 'process_group' && typeof containment.reason === 'string',
      JSON.stringify(containment),
    );
    assert.deepEqual(full['circuit'], { state: 'closed', retry_after_ms: 0 });
    assert.equal(full['rollout'], 'stable');
    assert.equal(full['max_concurrency'], 4);

    await server.call('consult', { prompt: 'hi' });
    assert.equal(
      textOf(await server.call('health_snapshot')),
      'ready gen=1 threads=1/1 in_flight=0 queued=0 worker=alive',
    );
    const concise = structured(await server.call('health_snapshot', { render: 'json' }));
    assert.equal(concise['state'], 'ready');
    assert.equal(concise['claude_version'], '9.9.9 (Fake Claude Code)');
    const porcelainFull = textOf(await server.call('health_snapshot', { detail: 'full' }));
    assert.match(porcelainFull, /^ready gen=1 /);
    assert.match(porcelainFull, /\nclaude: .*fake-claude\.mjs 9\.9\.9 \(Fake Claude Code\)/);
    assert.match(porcelainFull, /\nlast_fault: none/);
    assert.match(porcelainFull, /\ncontainment: (pid_namespace|process_group \(.+\))\n/);
  });

  it('keeps the last operational fault, not a caller’s input mistake', async (t) => {
    const server = await startTestServer(t);
    await server.call('consult', { prompt: 'x #fake {"is_error":true,"api_error_status":500}' });
    await server.call('consult', { prompt: '' });
    await server.call('health_snapshot');
    assert.match(textOf(await server.call('health_snapshot')), / last_fault=downstream_failure$/);
    const full = structured(
      await server.call('health_snapshot', { render: 'json', detail: 'full' }),
    );
    assert.equal(full['consecutive_failures'], 1);
    const bad = faultOf(await server.call('health_snapshot', { render: 'yaml' }));
    assert.equal(bad.fault.code, 'invalid_input');
    assert.match(bad.fault.detail, /render: must be "porcelain" or "json"/);
  });

  it('reports a missing CLI with the reason', async (t) => {
    const server = await startTestServer(t, {
      env: { PHONE_OPUS_CLAUDE_BIN: 'no-such-claude-binary' },
    });
    const full = await waitFor(
      async () =>
        structured(await server.call('health_snapshot', { render: 'json', detail: 'full' })),
      (h) => h['claude'] !== null,
    );
    assert.deepEqual(full['claude'], {
      path: null,
      version: null,
      reason: 'no-such-claude-binary was not found on PATH',
    });
  });
});

describe('telemetry_snapshot', () => {
  it('counts requests, outcomes, cost and tokens, and ranks methods', async (t) => {
    const server = await startTestServer(t);
    await server.call('consult', { prompt: 'a' });
    await server.call('consult', { prompt: 'b #fake {"cost":0.5}' });
    await server.call('consult', { prompt: 'c #fake {"is_error":true,"api_error_status":429}' });
    await server.call('consult', { prompt: '' });
    await server.call('nope');
    const data = structured(
      await server.call('telemetry_snapshot', { render: 'json', detail: 'full' }),
    );
    const totals = data['totals'] as Record<string, number>;
    // tools/list is not called by this client; initialize counts as a request.
    assert.equal(totals['successes'], 3);
    assert.equal(totals['response_errors'], 3);
    assert.equal(totals['transport_faults'], 0);
    assert.equal(totals['requests'], 6); // calls are counted as they complete: not this one
    const consult = data['consult'] as { cost_usd: number; tokens: Record<string, number> };
    assert.equal(consult.cost_usd, 0.5123);
    assert.equal(consult.tokens['input'], 200);
    assert.equal(consult.tokens['output'], 40);
    const methods = data['methods'] as {
      method: string;
      requests: number;
      response_errors: number;
      p50_latency_ms: number;
    }[];
    assert.deepEqual(
      methods.map((m) => [m.method, m.requests, m.response_errors]),
      [
        ['tools/call:consult', 4, 2],
        ['tools/call', 1, 1],
        ['initialize', 1, 0],
      ],
    );
    assert.ok((methods[0]?.p50_latency_ms ?? 0) > 0);
    const porcelain = textOf(await server.call('telemetry_snapshot'));
    const lines = porcelain.split('\n');
    assert.match(
      lines[0] ?? '',
      /^requests=7 success=4 response_error=3 transport_fault=0 retry=0 cancelled=0 timeout=0$/,
    );
    assert.equal(lines[1], 'worker_restarts=0 host_rollouts=0');
    assert.match(lines[2] ?? '', /^consult cost=\$0\.512300 /);
    assert.equal(lines[3], 'hot methods:');
    assert.match(
      lines[4] ?? '',
      /^tools\/call:consult req=4 err=2 transport=0 retry=0 p50=\S+ms p95=\S+ms max=\S+ms$/,
    );
  });
});
