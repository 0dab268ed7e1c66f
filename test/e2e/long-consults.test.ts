import assert from 'node:assert/strict';
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fake, structured } from '../support/fake.ts';
import { survivors, waitFor } from '../support/proc.ts';
import { startRawSession } from '../support/raw-session.ts';
import { faultOf, startTestServer, textOf } from '../support/server.ts';

describe('concurrency and queueing', () => {
  it('runs up to PHONE_OPUS_MAX_CONCURRENCY consults at the same time', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_MAX_CONCURRENCY: '4' } });
    const ends: number[] = [];
    await Promise.all(
      [1, 2, 3, 4].map(async (i) => {
        const r = await server.call('consult', { prompt: fake({ sleep_ms: 1000 }, `c${i}`) });
        assert.equal(r.isError, undefined);
        ends.push(Date.now());
      }),
    );
    const starts = server.cliLog().map((run) => (run as unknown as { started: number }).started);
    assert.equal(starts.length, 4);
    // Every CLI had started before the first one finished: they overlapped fully.
    assert.ok(Math.max(...starts) < Math.min(...ends), `starts ${starts} ends ${ends}`);
  });

  it('queues FIFO beyond the cap and refuses at once beyond the queue', async (t) => {
    const server = await startTestServer(t, {
      env: { PHONE_OPUS_MAX_CONCURRENCY: '1', PHONE_OPUS_MAX_QUEUE: '2' },
    });
    const first = server.call('consult', { prompt: fake({ sleep_ms: 1500 }, 'first') });
    await waitFor(
      () => server.cliLog().length,
      (n) => n === 1,
    );
    const second = server.call('consult', { prompt: fake({}, 'second') });
    const third = server.call('consult', { prompt: fake({}, 'third') });
    const health = await waitFor(
      async () => structured(await server.call('health_snapshot', { render: 'json' })),
      (h) => h['queued'] === 2,
    );
    assert.equal(health['in_flight'], 1);
    assert.equal(health['queued'], 2);
    assert.equal(health['state'], 'busy');
    const refusedAt = Date.now();
    const fourth = await server.call('consult', { prompt: fake({}, 'fourth') });
    assert.ok(Date.now() - refusedAt < 1000, 'refused at once');
    const fault = faultOf(fourth);
    assert.equal(fault.fault.code, 'overloaded');
    assert.equal(fault.retryable, true);
    assert.ok((fault.hint?.retry_after_ms ?? 0) > 0);
    await Promise.all([first, second, third]);
    assert.deepEqual(
      server.cliLog().map((run) => run.prompt.split(' ')[0]),
      ['first', 'second', 'third'],
    );
  });

  it('answers health instantly while the cap is busy', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_MAX_CONCURRENCY: '4' } });
    const running = [1, 2, 3, 4].map((i) =>
      server.call('consult', { prompt: fake({ sleep_ms: 1500 }, `c${i}`) }),
    );
    await waitFor(
      () => server.cliLog().length,
      (n) => n === 4,
    );
    for (let i = 0; i < 20; i++) {
      const health = structured(
        await server.call('health_snapshot', { render: 'json', detail: 'full' }),
      );
      assert.equal(health['in_flight'], 4);
      assert.deepEqual(health['threads'], { live: 4, idle: 0 });
    }
    await Promise.all(running);
  });
});

describe('timeouts', () => {
  it('stops the CLI at timeout_s and reports the session id, turns and elapsed time', async (t) => {
    const server = await startTestServer(t);
    const started = Date.now();
    const result = await server.call('consult', {
      prompt: fake({
        tools: [{ name: 'Read', input: { file_path: 'a.ts' } }],
        sleep_ms: 30_000,
        grandchildren: 1,
      }),
      // Long enough for a loaded machine to start the fake and read its first events.
      timeout_s: 4,
    });
    assert.ok(Date.now() - started < 15_000);
    const fault = faultOf(result);
    assert.equal(fault.fault.code, 'timeout');
    assert.equal(fault.fault.class, 'timeout');
    assert.match(fault.hint?.session_id ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(fault.hint?.num_turns, 1);
    assert.ok((fault.hint?.elapsed_ms ?? 0) >= 4000);
    assert.match(textOf(result), /resume with session_id/);
    const [run] = server.cliLog();
    assert.ok(run);
    assert.deepEqual(await survivors([run.pid, ...run.children]), []);
    const telemetry = structured(await server.call('telemetry_snapshot', { render: 'json' }));
    assert.equal(telemetry['timeouts'], 1);
  });

  it('reports a timeout without a session id when the CLI never announced one', async (t) => {
    const server = await startTestServer(t);
    const fault = faultOf(
      await server.call('consult', {
        prompt: fake({ no_init: true, sleep_ms: 30_000 }),
        timeout_s: 1,
      }),
    );
    assert.equal(fault.fault.code, 'timeout');
    assert.equal(fault.hint?.session_id, undefined);
    assert.match(fault.hint?.message ?? '', /larger timeout_s/);
  });

  it('gives exactly one outcome when the CLI finishes as the timer fires', async (t) => {
    const s = startRawSession(t);
    await s.initialize();
    const ids = [1, 2, 3, 4, 5, 6];
    for (const id of ids) {
      const sleep = 880 + id * 40; // straddles the 1 s deadline
      s.send({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'consult', arguments: { prompt: fake({ sleep_ms: sleep }), timeout_s: 1 } },
      });
    }
    for (const id of ids) await s.next((m) => m['id'] === id, 20_000);
    await s.settle();
    for (const id of ids) assert.equal(s.responsesFor(id).length, 1, `id ${id}`);
  });
});

describe('cancellation', () => {
  it('kills the CLI group, sends no response, frees the slot and counts it', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_MAX_CONCURRENCY: '1' } });
    const controller = new AbortController();
    const pending = server.call(
      'consult',
      { prompt: fake({ sleep_ms: 60_000, grandchildren: 2, ignore_sigterm: false }) },
      { signal: controller.signal },
    );
    const [run] = await waitFor(
      () => server.cliLog(),
      (l) => l.length === 1,
    );
    assert.ok(run);
    controller.abort();
    await assert.rejects(pending);
    assert.deepEqual(await survivors([run.pid, ...run.children]), []);
    // The slot is free: the next consult runs (cap 1).
    const next = await server.call('consult', { prompt: fake({ result: 'after cancel' }) });
    assert.match(textOf(next), /after cancel/);
    const telemetry = structured(await server.call('telemetry_snapshot', { render: 'json' }));
    assert.equal(telemetry['cancellations'], 1);
  });

  it('removes a cancelled consult from the queue without ever starting it', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_MAX_CONCURRENCY: '1' } });
    const first = server.call('consult', { prompt: fake({ sleep_ms: 1000 }, 'first') });
    await waitFor(
      () => server.cliLog().length,
      (n) => n === 1,
    );
    const controller = new AbortController();
    const queued = server.call(
      'consult',
      { prompt: fake({}, 'queued') },
      { signal: controller.signal },
    );
    controller.abort();
    await assert.rejects(queued);
    await first;
    await server.call('consult', { prompt: fake({}, 'last') });
    assert.deepEqual(
      server.cliLog().map((r) => r.prompt.split(' ')[0]),
      ['first', 'last'],
    );
  });
});

describe('progress', () => {
  it('notifies at start, on each turn and tool use, and on the heartbeat, strictly increasing', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_PROGRESS_INTERVAL_MS: '200' } });
    const seen: { progress: number; message?: string | undefined }[] = [];
    const result = await server.call(
      'consult',
      {
        prompt: fake({
          tools: [
            { name: 'Read', input: { file_path: 'src/app.ts' }, delay_ms: 300 },
            { name: 'Grep', input: { pattern: 'TODO' }, delay_ms: 300 },
          ],
          sleep_ms: 700,
        }),
      },
      { onprogress: (p) => seen.push(p) },
    );
    assert.equal(result.isError, undefined);
    assert.ok(seen.length >= 5, `got ${seen.length}`);
    for (let i = 1; i < seen.length; i++)
      assert.ok((seen[i]?.progress ?? 0) > (seen[i - 1]?.progress ?? 0));
    const messages = seen.map((p) => p.message ?? '');
    // The first notification comes when the CLI starts (a heartbeat may precede it on a busy box).
    assert.ok(
      messages.some((m) => /^claude starting · \d+ s$/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => /^turn 1 · Read src\/app\.ts · \d+ s$/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => /^turn 2 · Grep TODO · \d+ s$/.test(m)),
      messages.join('\n'),
    );
  });

  it('sends no progress without a progressToken', async (t) => {
    const s = startRawSession(t, { PHONE_OPUS_PROGRESS_INTERVAL_MS: '100' });
    await s.initialize();
    s.send({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'consult',
        arguments: { prompt: fake({ sleep_ms: 500, tools: [{ name: 'Read' }] }) },
      },
    });
    await s.next((m) => m['id'] === 1);
    assert.equal(
      s.lines.filter((m) => (m as Record<string, unknown>)['method'] === 'notifications/progress')
        .length,
      0,
    );
  });
});

describe('sessions', () => {
  it('resumes in the session’s original cwd, also after a restart; a contradicting cwd is refused', async (t) => {
    const first = await startTestServer(t);
    const work = join(first.dir, 'project');
    mkdirSync(work);
    const answer = structured(
      await first.call('consult', { prompt: 'start', cwd: work, render: 'json' }),
    );
    const sessionId = String(answer['session_id']);
    await first.close();

    const second = await startTestServer(t, { env: { PHONE_OPUS_STATE_DIR: first.stateDir } });
    const resumed = await second.call('consult', {
      prompt: 'continue',
      session_id: sessionId,
      render: 'json',
    });
    assert.equal(resumed.isError, undefined, textOf(resumed));
    const [run] = second.cliLog();
    assert.equal(run?.cwd, realpathSync(work));
    assert.deepEqual(run?.argv.slice(-2), ['--resume', sessionId]);
    const other = join(second.dir, 'other');
    mkdirSync(other);
    const contradicted = faultOf(
      await second.call('consult', { prompt: 'x', session_id: sessionId, cwd: other }),
    );
    assert.equal(contradicted.fault.code, 'invalid_input');
    assert.match(contradicted.fault.detail, /contradicts session/);
  });
});
