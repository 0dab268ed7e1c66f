import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../../src/host/clock.ts';
import { Admission } from '../../../src/host/consult/admission.ts';
import { CircuitBreaker } from '../../../src/host/consult/breaker.ts';
import { ConsultService } from '../../../src/host/consult/consult-service.ts';
import type { ConsultOutcome } from '../../../src/host/consult/outcome-faults.ts';
import { Supervisor } from '../../../src/host/consult/supervisor.ts';
import { TaskEvents } from '../../../src/host/pool/task-events.ts';
import { TreeRegistry } from '../../../src/host/pool/tree-registry.ts';
import { loadPiscina, WorkerPool } from '../../../src/host/pool/worker-pool.ts';
import type { ReplayContract } from '../../../src/shared/replay.ts';
import { isAlive, waitFor } from '../../support/proc.ts';

/**
 * Thread deaths of every kind, injected by a fixture worker that starts a real process group
 * (a shell ignoring SIGTERM, with a sleeping child) and then dies as its prompt says.
 */
const WORKER = fileURLToPath(new URL('../../fixtures/workers/dying-worker.ts', import.meta.url));

async function harness(
  t: TestContext,
  contract: ReplayContract,
  options: { capacity?: number; backoffMs?: number } = {},
) {
  loadPiscina();
  const supervisor = new Supervisor(
    systemClock,
    new CircuitBreaker({
      maxLosses: 5,
      windowMs: 60_000,
      baseBackoffMs: options.backoffMs ?? 60_000,
      maxBackoffMs: 120_000,
    }),
  );
  const kills: string[] = [];
  const registry = new TreeRegistry((reason) => kills.push(reason), 300);
  const leaders: number[] = [];
  const events = new TaskEvents(() => assert.fail('an event for a task nobody runs'));
  const pool = new WorkerPool({
    workerFile: WORKER,
    boot: {
      claudeBin: 'unused',
      childEnv: {},
      build: 'fixture',
      maxAnswerBytes: 1024 * 1024,
      answersDir: '/nonexistent',
      allowedRoots: null,
      containment: { mode: 'process_group', launcher: [] },
    },
    maxThreads: options.capacity ?? 2,
    maxHeapMb: 32,
    onEvent: (event) => {
      if (event.type === 'spawned') leaders.push(event.pgid);
      events.deliver(event);
    },
    onThreadLost: () => supervisor.threadLost(),
  });
  const consults = new ConsultService({
    pool: async () => pool,
    events,
    registry,
    supervisor,
    admission: new Admission(options.capacity ?? 2, 8),
    clock: systemClock,
    contract,
    takeCrashHook: () => false,
  });
  t.after(() => pool.destroy());
  const consult = (how: string): Promise<ConsultOutcome> =>
    consults.run({
      request: { prompt: how, cwd: '/' },
      timeoutMs: 60_000,
      signal: new AbortController().signal,
      progress: undefined,
    });
  return { supervisor, registry, pool, consult, leaders, kills };
}

const code = (o: ConsultOutcome) => (o.kind === 'fault' ? o.fault.fault.code : o.kind);

describe('thread deaths during a consult', () => {
  for (const how of ['exit', 'throw', 'reject', 'oom'] as const) {
    it(`${how}: never_replay → outcome_unknown, the tree is killed, generation +1`, async (t) => {
      const h = await harness(t, 'never_replay');
      const outcome = await h.consult(how);
      assert.equal(code(outcome), 'outcome_unknown');
      assert.equal(outcome.kind === 'fault' && outcome.fault.retried, false);
      assert.equal(outcome.attempts, 1);
      assert.equal(h.supervisor.generation, 2);
      assert.equal(h.supervisor.restartCount, 1);
      for (const pid of h.leaders) assert.equal(isAlive(pid), false, `leader ${pid}`);
      assert.equal(h.registry.size, 0);
      // The pool still serves.
      assert.equal(code(await h.consult('ok')), 'ok');
    });

    it(`${how}: convergent → replayed once; a second loss is outcome_unknown with retried`, async (t) => {
      const h = await harness(t, 'convergent');
      const outcome = await h.consult(how);
      assert.equal(code(outcome), 'outcome_unknown');
      assert.equal(outcome.kind === 'fault' && outcome.fault.retried, true);
      assert.equal(outcome.attempts, 2);
      assert.equal(h.supervisor.generation, 3, 'exactly two losses');
      assert.equal(h.leaders.length, 2);
      for (const pid of h.leaders) assert.equal(isAlive(pid), false);
    });
  }

  it('other in-flight consults are unaffected by one thread’s death', async (t) => {
    const h = await harness(t, 'never_replay', { capacity: 4 });
    const outcomes = await Promise.all(['ok', 'exit', 'ok', 'ok'].map((how) => h.consult(how)));
    assert.deepEqual(outcomes.map(code), ['ok', 'outcome_unknown', 'ok', 'ok']);
    assert.equal(h.supervisor.generation, 2);
  });

  it('a consult queued behind a dying one is a first dispatch, not a replay', async (t) => {
    const h = await harness(t, 'convergent', { capacity: 1 });
    const [dying, queued] = await Promise.all([h.consult('exit'), h.consult('ok')]);
    assert.equal(code(dying), 'outcome_unknown');
    assert.equal(queued.attempts, 1);
    assert.equal(code(queued), 'ok');
  });
});

describe('restart-storm breaker', () => {
  it('opens after more than 5 losses, refuses fast, then lets one probe through and closes', async (t) => {
    const h = await harness(t, 'never_replay', { capacity: 1, backoffMs: 1500 });
    for (let i = 0; i < 6; i++) assert.equal(code(await h.consult('exit')), 'outcome_unknown');
    assert.equal(h.supervisor.breaker.state(systemClock.monotonicMs()), 'open');
    const spawnedBefore = h.leaders.length;
    const refused = await h.consult('ok');
    assert.equal(h.leaders.length, spawnedBefore, 'refused without dispatch');
    assert.equal(code(refused), 'circuit_open');
    assert.equal(refused.kind === 'fault' && refused.fault.retryable, true);
    assert.ok(refused.kind === 'fault' && (refused.fault.hint?.retry_after_ms ?? 0) > 0);
    const generation = h.supervisor.generation;
    await waitFor(
      () => h.supervisor.breaker.state(systemClock.monotonicMs()),
      (s) => s === 'half_open',
      5000,
    );
    assert.equal(code(await h.consult('ok')), 'ok', 'the probe runs');
    assert.equal(h.supervisor.breaker.state(systemClock.monotonicMs()), 'closed');
    assert.equal(h.supervisor.generation, generation, 'no thread lost while open');
  });
});
