import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { fake, structured } from '../support/fake.ts';
import { isAlive, liveProcessesWithEnv, waitFor } from '../support/proc.ts';
import { startRawSession } from '../support/raw-session.ts';
import { faultOf, startTestServer, textOf } from '../support/server.ts';

const CRASH = { PHONE_OPUS_MCP_TEST_WORKER_CRASH_ONCE_KEY: 'tools/call:consult' };

describe('a worker thread lost mid-consult', () => {
  it('never_replay: outcome_unknown, the CLI tree is killed, the next consult runs on generation 2', async (t) => {
    const server = await startTestServer(t, { env: CRASH });
    // The start-up `claude --version` probe is a process of this server too: let it finish.
    await waitFor(
      async () =>
        structured(await server.call('health_snapshot', { render: 'json', detail: 'full' })),
      (h) => h['claude'] !== null,
    );
    const result = await server.call('consult', {
      prompt: fake({ sleep_ms: 30_000, grandchildren: 1, ignore_sigterm: true }),
    });
    const fault = faultOf(result);
    assert.equal(fault.fault.code, 'outcome_unknown');
    assert.equal(fault.fault.class, 'replay');
    assert.equal(fault.retryable, false);
    assert.equal(fault.retried, false);
    assert.match(fault.hint?.message ?? '', /may have run and cost money/);
    assert.match(textOf(result), /^error outcome_unknown: /);
    // The host killed the whole tree before answering (the thread died right after the spawn,
    // so the CLI may not even have got as far as logging itself).
    assert.deepEqual(
      liveProcessesWithEnv(server.marker).filter((p) => p.pid !== server.pid),
      [],
    );
    const next = await server.call('consult', {
      prompt: fake({ result: 'second' }),
      render: 'json',
      detail: 'full',
    });
    assert.equal(structured(next)['generation'], 2);
    assert.equal(server.cliLog().at(-1)?.prompt.startsWith('q #fake {"result":"second"'), true);
    assert.ok(server.cliLog().length <= 2, 'not replayed');
    const health = structured(
      await server.call('health_snapshot', { render: 'json', detail: 'full' }),
    );
    assert.equal(health['generation'], 2);
    assert.equal(health['restart_count'], 1);
    assert.equal(
      (health['last_fault'] as { fault: { code: string } }).fault.code,
      'outcome_unknown',
    );
    const telemetry = structured(await server.call('telemetry_snapshot', { render: 'json' }));
    assert.equal(telemetry['worker_restarts'], 1);
    assert.equal(telemetry['retries'], 0);
  });

  it('convergent: replayed once on the new generation after the first tree is gone', async (t) => {
    const server = await startTestServer(t, {
      env: { ...CRASH, PHONE_OPUS_CONSULT_REPLAY: 'convergent' },
    });
    const result = await server.call('consult', {
      prompt: fake({ result: 'replayed answer', grandchildren: 1 }),
      render: 'json',
      detail: 'full',
    });
    assert.equal(result.isError, undefined, textOf(result));
    const data = structured(result);
    assert.equal(data['response'], 'replayed answer');
    assert.equal(data['attempts'], 2);
    assert.equal(data['generation'], 2);
    // Only the replay's tree existed at the end: the first was killed before the redispatch.
    const runs = server.cliLog();
    assert.ok(runs.length >= 1 && runs.length <= 2);
    for (const run of runs)
      for (const pid of [run.pid, ...run.children]) assert.equal(isAlive(pid), false);
    const telemetry = structured(await server.call('telemetry_snapshot', { render: 'json' }));
    assert.equal(telemetry['retries'], 1);
  });

  it('leaves the other in-flight consults untouched', async (t) => {
    const server = await startTestServer(t, { env: CRASH });
    const crashing = server.call('consult', { prompt: fake({ sleep_ms: 5000 }, 'crashing') });
    await waitFor(
      () => server.cliLog().length,
      (n) => n === 1,
    );
    const others = [1, 2, 3].map((i) =>
      server.call('consult', { prompt: fake({ sleep_ms: 800, result: `other ${i}` }) }),
    );
    assert.equal(faultOf(await crashing).fault.code, 'outcome_unknown');
    const results = await Promise.all(others);
    for (const [i, r] of results.entries()) assert.match(textOf(r), new RegExp(`other ${i + 1}$`));
  });
});

/**
 * A raw session with two consults running, each CLI with a grandchild (the second ignoring
 * SIGTERM); resolves once all of them are alive. `marker` finds every process of this server.
 */
async function twoLongConsults(t: TestContext, name: string) {
  const marker = `PHONE_OPUS_TEST_MARKER=${name.replace(/\W/g, '')}${Date.now()}`;
  const s = startRawSession(t, {
    [marker.split('=')[0] as string]: marker.split('=')[1] as string,
  });
  await s.initialize();
  for (const id of [1, 2]) {
    s.send({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: {
        name: 'consult',
        arguments: {
          prompt: fake({ sleep_ms: 60_000, grandchildren: 1, ignore_sigterm: id === 2 }),
        },
      },
    });
  }
  await waitFor(
    () => liveProcessesWithEnv(marker).length,
    (n) => n >= 6,
    10_000,
  );
  return { s, marker };
}

describe('shutdown', () => {
  const paths: [string, (s: ReturnType<typeof startRawSession>) => void][] = [
    ['stdin EOF', (s) => s.child.stdin.end()],
    ['SIGTERM', (s) => s.child.kill('SIGTERM')],
    ['SIGINT', (s) => s.child.kill('SIGINT')],
    [
      'a broken stdout pipe',
      (s) => {
        // The break shows when the server next writes: make it answer something.
        s.child.stdout.destroy();
        s.send({ jsonrpc: '2.0', id: 'ping', method: 'ping' });
      },
    ],
  ];
  for (const [name, trigger] of paths) {
    it(`on ${name} with consults in flight: kills every CLI, exits 0 within 5 s`, async (t) => {
      const { s, marker } = await twoLongConsults(t, name);
      const before = Date.now();
      trigger(s);
      const exit = await s.exited;
      const took = Date.now() - before;
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(took < 5000, `exit took ${took} ms`);
      assert.deepEqual(liveProcessesWithEnv(marker), []);
      if (name === 'stdin EOF') {
        // stdout still worked: each in-flight request got exactly one answer.
        for (const id of [1, 2]) assert.equal(s.responsesFor(id).length, 1);
      }
    });
  }
});

describe('a server killed outright', () => {
  it('by SIGKILL leaves no CLI behind: the guard ends each tree when its thread dies', async (t) => {
    const { s, marker } = await twoLongConsults(t, 'sigkill');
    s.child.kill('SIGKILL');
    await s.exited;
    const left = await waitFor(
      () => liveProcessesWithEnv(marker),
      (l) => l.length === 0,
      5000,
    );
    assert.deepEqual(left, []);
  });
});

describe('exactly one response per request', () => {
  it('holds for a mixed burst with a thread crash, errors, a timeout and a cancellation', async (t) => {
    const s = startRawSession(t, {
      ...CRASH,
      PHONE_OPUS_MAX_CONCURRENCY: '3',
      PHONE_OPUS_MAX_QUEUE: '40',
    });
    await s.initialize();
    const call = (id: number, name: string, args: object) =>
      s.send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
    const directives = [
      { sleep_ms: 300 },
      { is_error: true, api_error_status: 500 },
      { raw_stdout: 'junk\n' },
      {},
    ];
    let id = 0;
    const expected: number[] = [];
    for (let round = 0; round < 6; round++) {
      for (const directive of directives) {
        id += 1;
        expected.push(id);
        call(id, 'consult', { prompt: fake(directive, `r${round}`) });
      }
      id += 1;
      expected.push(id);
      call(id, 'health_snapshot', {});
      id += 1;
      expected.push(id);
      s.send({ jsonrpc: '2.0', id, method: 'ping' });
      id += 1;
      expected.push(id);
      call(id, 'consult', { prompt: '' });
    }
    id += 1;
    expected.push(id);
    call(id, 'consult', { prompt: fake({ sleep_ms: 30_000 }), timeout_s: 2 });
    const cancelled = id + 1;
    call(cancelled, 'consult', { prompt: fake({ sleep_ms: 30_000 }) });
    // Queued or running when the cancel comes: either way it never answers.
    s.send({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: cancelled, reason: 'test' },
    });
    for (const n of expected) await s.next((m) => m['id'] === n, 60_000);
    await s.settle();
    for (const n of expected) assert.equal(s.responsesFor(n).length, 1, `id ${n}`);
    assert.equal(s.responsesFor(cancelled).length, 0, 'no response for the cancelled request');
    // The crash hook cost exactly one consult its thread.
    const unknown = s.lines.filter((m) => JSON.stringify(m).includes('"code":"outcome_unknown"'));
    assert.equal(unknown.length, 1);
  });
});
