import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAs, ResultEnvelopeSchema } from '../../src/shared/cli-output.ts';
import { answeringModel, classifyRun } from '../../src/worker/classify.ts';
import type { StreamSummary } from '../../src/worker/stream-json.ts';

const at = { generation: 1, stage: 'claude', operation: 'tools/call:consult' } as const;
const summary = (
  result: Record<string, unknown> | undefined,
  over: Partial<StreamSummary> = {},
): StreamSummary => ({
  result:
    result === undefined ? undefined : parseAs(ResultEnvelopeSchema, { type: 'result', ...result }),
  sessionId: 'from-stream',
  model: 'stream-model',
  turns: 3,
  junk: '',
  events: 4,
  lastEventType: 'assistant',
  answerInSink: false,
  ...over,
});
const run = (
  result: Record<string, unknown> | undefined,
  exit: { exitCode: number | null; signal: NodeJS.Signals | null } = { exitCode: 0, signal: null },
  stderr = '',
  over: Partial<StreamSummary> = {},
) => classifyRun(at, { exit, stream: summary(result, over), stderr, build: 'b', cwd: '/w' });
const reasonOf = (o: ReturnType<typeof run>) => (o.ok ? 'ok' : o.fault.reason);

describe('classifyRun', () => {
  it('succeeds only on exit 0 + is_error false + subtype success, with the envelope’s facts', () => {
    const ok = run({
      subtype: 'success',
      is_error: false,
      result: 'hi',
      session_id: 's',
      num_turns: 2,
      total_cost_usd: 0.008219999999999998,
      modelUsage: { 'claude-opus-4-8[1m]': { outputTokens: 9, costUSD: 0.008219999999999998 } },
      stop_reason: 'end_turn',
    });
    assert.ok(ok.ok);
    assert.equal(ok.value.response, 'hi');
    assert.equal(ok.value.total_cost_usd, 0.00822);
    assert.equal(ok.value.model, 'claude-opus-4-8');
    assert.deepEqual(ok.value.model_usage, {
      'claude-opus-4-8[1m]': { outputTokens: 9, costUSD: 0.00822 },
    });
    assert.equal(
      reasonOf(run({ subtype: 'success', is_error: false }, { exitCode: 1, signal: null })),
      'cli_error',
    );
    assert.equal(
      reasonOf(run({ subtype: 'success' })),
      'cli_error',
      'is_error must be false, not absent',
    );
  });

  it('tolerates fields of unexpected types (they read as absent)', () => {
    const ok = run({
      subtype: 'success',
      is_error: false,
      result: 'hi',
      num_turns: 'many',
      total_cost_usd: 'free',
      session_id: 7,
    });
    assert.ok(ok.ok);
    assert.equal(ok.value.num_turns, 3);
    assert.equal(ok.value.total_cost_usd, null);
    assert.equal(ok.value.session_id, 'from-stream');
  });

  it('names the reason of a failure', () => {
    const cases: [Record<string, unknown>, string, string?][] = [
      [{ subtype: 'error_max_turns', is_error: true, num_turns: 5 }, 'max_turns'],
      [{ subtype: 'error_max_budget_usd', is_error: true }, 'budget'],
      [{ subtype: 'success', is_error: true, api_error_status: 401 }, 'auth'],
      [{ subtype: 'success', is_error: true, result: 'Not logged in · Please run /login' }, 'auth'],
      [{ subtype: 'success', is_error: true, api_error_status: 429 }, 'rate_limit'],
      [{ subtype: 'success', is_error: true, api_error_status: 529 }, 'rate_limit'],
      [{ subtype: 'success', is_error: true, api_error_status: 500 }, 'api_error'],
      [{ subtype: 'error_during_execution', is_error: true }, 'cli_error'],
    ];
    for (const [envelope, reason] of cases) {
      const outcome = run(envelope, { exitCode: 1, signal: null });
      assert.equal(reasonOf(outcome), reason, JSON.stringify(envelope));
      assert.equal(
        !outcome.ok && outcome.fault.retryable,
        reason === 'rate_limit' || reason === 'api_error',
      );
    }
  });

  it('says what came instead of an envelope', () => {
    const junk = run(undefined, { exitCode: 0, signal: null }, '', { junk: 'not json\n' });
    assert.equal(reasonOf(junk), 'invalid_output');
    assert.match(junk.ok ? '' : junk.fault.fault.detail, /output began: not json/);
    const events = run(undefined);
    assert.match(
      events.ok ? '' : events.fault.fault.detail,
      /after 4 events \(the last of type assistant\)/,
    );
    const nothing = run(undefined, { exitCode: 0, signal: null }, '', { events: 0 });
    assert.match(nothing.ok ? '' : nothing.fault.fault.detail, /it printed nothing/);
    const crashed = run(undefined, { exitCode: 137, signal: null }, 'out of memory');
    assert.match(
      crashed.ok ? '' : crashed.fault.fault.detail,
      /exited with status 137 \(SIGKILL\): out of memory/,
    );
  });

  it('takes the answering model from the most output tokens, not the first key', () => {
    assert.equal(
      answeringModel({ haiku: { outputTokens: 3 }, 'opus[1m]': { outputTokens: 90 } }),
      'opus',
    );
    assert.equal(answeringModel({ a: 'junk', b: { outputTokens: 'x' } }), 'a');
    assert.equal(answeringModel(undefined), null);
  });
});
