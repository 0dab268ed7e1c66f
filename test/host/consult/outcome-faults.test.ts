import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AttemptRecord } from '../../../src/host/consult/invocation.ts';
import {
  circuitOpen,
  concluded,
  drained,
  overloaded,
  shuttingDown,
  threadLost,
  unstarted,
} from '../../../src/host/consult/outcome-faults.ts';
import type { ConsultSuccess } from '../../../src/shared/wire.ts';

const answer: ConsultSuccess = {
  response: 'the answer',
  cwd: '/w',
  session_id: 's-1',
  model: 'm',
  num_turns: 2,
  duration_ms: 10,
  duration_api_ms: null,
  stop_reason: 'end_turn',
  total_cost_usd: 0.1,
  usage: null,
  model_usage: null,
  permission_denials: [],
  build: 'b',
};
const facts = { generation: 3, attempts: 1, sessionId: 's-live', turns: 4 };
const record = (over: Partial<AttemptRecord>): AttemptRecord => ({
  result: { kind: 'reply', reply: { status: 'ok', value: answer }, generation: 2 },
  stop: undefined,
  exitedBeforeStop: false,
  elapsedMs: 2500,
  ...over,
});
const codeOf = (o: ReturnType<typeof concluded>) =>
  o.kind === 'fault' ? o.fault.fault.code : o.kind;

describe('how an attempt ends the consult', () => {
  it('an answer stands unless a stop came while the CLI still ran', () => {
    const ok = concluded(record({}), facts);
    assert.deepEqual(ok, { kind: 'ok', value: answer, generation: 2, attempts: 1 });
    assert.equal(
      codeOf(concluded(record({ stop: 'timeout', exitedBeforeStop: true }), facts)),
      'ok',
    );
    const stopped = concluded(record({ stop: 'timeout' }), facts);
    assert.equal(codeOf(stopped), 'timeout', 'an answer caused by the stop does not stand');
  });

  it('a timeout carries what is known: session, turns, elapsed, a resume hint', () => {
    const outcome = concluded(
      record({ result: { kind: 'stopped', reason: 'timeout' }, stop: 'timeout' }),
      facts,
    );
    assert.equal(outcome.kind, 'fault');
    if (outcome.kind !== 'fault') return;
    assert.match(outcome.fault.fault.detail, /timed out after 2\.5 s \(4 turns\)/);
    assert.equal(outcome.fault.hint?.session_id, 's-live');
    assert.equal(outcome.fault.hint?.elapsed_ms, 2500);
    assert.match(outcome.fault.hint?.message ?? '', /resume with session_id s-live/);
    const fresh = concluded(
      record({ result: { kind: 'stopped', reason: 'timeout' }, stop: 'timeout' }),
      {
        ...facts,
        sessionId: null,
      },
    );
    assert.match(
      fresh.kind === 'fault' ? (fresh.fault.hint?.message ?? '') : '',
      /had not started a session/,
    );
  });

  it('cancel, shutdown and drain stops, a worker fault, and a kill from outside', () => {
    assert.equal(
      codeOf(
        concluded(
          record({ stop: 'cancelled', result: { kind: 'stopped', reason: 'cancelled' } }),
          facts,
        ),
      ),
      'cancelled',
    );
    const shutdown = concluded(
      record({ stop: 'shutdown', result: { kind: 'stopped', reason: 'shutdown' } }),
      facts,
    );
    assert.equal(codeOf(shutdown), 'transport_failure');
    assert.equal(shutdown.kind === 'fault' && shutdown.fault.retryable, true);
    const workerFault = concluded(
      record({
        result: {
          kind: 'reply',
          generation: 2,
          reply: {
            status: 'terminated',
            terminated: {
              signal: 'SIGKILL',
              exit_code: null,
              session_id: null,
              num_turns: 6,
              elapsed_ms: 1,
            },
          },
        },
      }),
      facts,
    );
    assert.equal(codeOf(workerFault), 'downstream_failure');
    assert.match(
      workerFault.kind === 'fault' ? workerFault.fault.fault.detail : '',
      /killed by SIGKILL from outside/,
    );
    assert.equal(workerFault.kind === 'fault' && workerFault.fault.hint?.num_turns, 6);
  });

  it('a fault after a replay is marked retried', () => {
    const lost = threadLost({ ...facts, attempts: 2 }, 'worker exited', 'convergent');
    assert.equal(lost.kind === 'fault' && lost.fault.retried, true);
    assert.match(lost.kind === 'fault' ? lost.fault.fault.detail : '', /lost again on the replay/);
    const first = threadLost(facts, 'worker exited', 'never_replay');
    assert.equal(first.kind === 'fault' && first.fault.retried, false);
    assert.match(
      first.kind === 'fault' ? (first.fault.hint?.message ?? '') : '',
      /may have run and cost money/,
    );
    const drainedTwice = drained(3, 2);
    assert.equal(drainedTwice.kind === 'fault' && drainedTwice.fault.retried, true);
  });

  it('the gate: shutdown, open circuit, full queue, a thread that cannot start', () => {
    assert.equal(codeOf(shuttingDown(1, true)), 'transport_failure');
    const open = circuitOpen(1, 1234.5);
    assert.equal(open.kind === 'fault' && open.fault.hint?.retry_after_ms, 1235);
    const busy = overloaded(1, { running: 4, queued: 32, capacity: 4 });
    assert.match(
      busy.kind === 'fault' ? busy.fault.fault.detail : '',
      /4 consults running and 32 queued/,
    );
    const none = unstarted(1, 'EMFILE', 0);
    assert.equal(none.kind === 'fault' && none.fault.retryable, true);
    assert.match(none.kind === 'fault' ? none.fault.fault.detail : '', /nothing ran/);
  });
});
