import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fake } from '../support/fake.ts';
import { waitFor } from '../support/proc.ts';
import { faultOf, startTestServer, textOf } from '../support/server.ts';

describe('what clients see', () => {
  it("publishes phone-opus's tool metadata in _meta, where SDK clients keep it", async (t) => {
    const server = await startTestServer(t);
    const { tools } = await server.client.listTools();
    const meta = Object.fromEntries(tools.map((tool) => [tool.name, tool._meta]));
    assert.deepEqual(meta['consult'], {
      phoneOpus: { dispatch: 'worker', replayContract: 'never_replay' },
    });
    assert.deepEqual(meta['health_snapshot'], {
      phoneOpus: { dispatch: 'host', replayContract: 'convergent' },
    });
  });

  it('shows costs without float noise, in text and JSON', async (t) => {
    const server = await startTestServer(t);
    const prompt = fake({ cost: 0.008219999999999998, result: 'priced' });
    assert.match(textOf(await server.call('consult', { prompt })), / cost=\$0\.008220\n/);
    const json = await server.call('consult', { prompt, render: 'json', detail: 'full' });
    const data = json.structuredContent as Record<string, unknown>;
    assert.equal(data['total_cost_usd'], 0.00822);
    const perModel = Object.values(data['model_usage'] as Record<string, { costUSD: number }>);
    assert.deepEqual(
      perModel.map((u) => u.costUSD),
      [0.00822],
    );
    assert.ok(!textOf(json).includes('0.008219999'), textOf(json));
    const telemetry = await server.call('telemetry_snapshot', { render: 'json' });
    assert.equal(
      (telemetry.structuredContent as Record<string, unknown>)['consult_cost_usd'],
      0.01644,
    );
  });

  it('bounds max_turns', async (t) => {
    const server = await startTestServer(t);
    const fault = faultOf(await server.call('consult', { prompt: 'x', max_turns: 1e21 }));
    assert.equal(fault.fault.code, 'invalid_input');
    assert.match(fault.fault.detail, /max_turns: must be at most 10000/);
    assert.deepEqual(server.cliLog(), []);
  });

  it('says what a run without a result envelope did print', async (t) => {
    const server = await startTestServer(t);
    const fault = faultOf(
      await server.call('consult', {
        prompt: fake({ no_result: true, tools: [{ name: 'Read' }] }),
      }),
    );
    assert.equal(fault.reason, 'invalid_output');
    assert.match(
      fault.fault.detail,
      /without a result envelope after 4 events \(the last of type assistant\)/,
    );
    assert.doesNotMatch(fault.fault.detail, /no output/);
    assert.equal(fault.hint?.num_turns, 2);
  });

  it('puts a missing Claude CLI on the one-line health', async (t) => {
    const server = await startTestServer(t, {
      env: { PHONE_OPUS_CLAUDE_BIN: '/nonexistent/claude' },
    });
    const line = await waitFor(
      async () => textOf(await server.call('health_snapshot')),
      (text) =>
        !text.startsWith('cold gen=1 threads=0/0 in_flight=0 queued=0 worker=none\n') &&
        text.includes('claude='),
      5000,
      50,
    );
    assert.match(line, /^cold gen=1 .* claude=missing$/);
  });
});
