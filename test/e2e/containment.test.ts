import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fake, structured } from '../support/fake.ts';
import {
  isAlive,
  liveProcessesWithEnv,
  liveWithComm,
  survivors,
  waitFor,
} from '../support/proc.ts';
import { faultOf, startTestServer, textOf } from '../support/server.ts';

/**
 * Processes that leave the CLI's process group (SPEC §6.4): `setsid` children, double-forked
 * daemons, a child of a CLI that exits before any /proc scan could see it. None may outlive
 * the consult, its timeout, or the server, however it ends.
 */

/** The fake's strays are `sleep` processes; they carry the server's marker in their environment. */
const strays = (marker: string) =>
  waitFor(
    () => liveWithComm(marker, 'sleep'),
    (l) => l.length === 0,
    5000,
  );

describe('processes that leave the CLI’s group', () => {
  it('are gone when a CLI that left a daemon behind exits normally', async (t) => {
    const server = await startTestServer(t);
    const result = await server.call('consult', { prompt: fake({ daemons: 2, result: 'done' }) });
    assert.match(textOf(result), /done$/);
    assert.deepEqual(await strays(server.marker), []);
  });

  it('are gone when a CLI exits at once, before any scan of its tree, leaving setsid children', async (t) => {
    const server = await startTestServer(t);
    const result = await server.call('consult', { prompt: fake({ setsid_children: 2 }) });
    assert.equal(result.isError, undefined, textOf(result));
    const [run] = server.cliLog();
    assert.equal(run?.escaped.length, 2);
    assert.deepEqual(await survivors(run?.escaped ?? []), []);
    assert.deepEqual(await strays(server.marker), []);
  });

  it('are gone when the consult times out', async (t) => {
    const server = await startTestServer(t);
    const result = await server.call('consult', {
      prompt: fake({ sleep_ms: 30_000, daemons: 1, setsid_children: 1 }),
      timeout_s: 2,
    });
    assert.equal(faultOf(result).fault.code, 'timeout');
    assert.deepEqual(await strays(server.marker), []);
  });

  it('are gone after the server is killed by SIGKILL with such consults in flight', async (t) => {
    const server = await startTestServer(t);
    const calls = [1, 2].map((i) =>
      server
        .call('consult', {
          prompt: fake(
            { sleep_ms: 60_000, setsid_children: 2, daemons: 2, grandchildren: 1 },
            `c${i}`,
          ),
        })
        .catch(() => undefined),
    );
    // 2 consults × (2 setsid children + 2 daemons + 1 grandchild's sleep) are running.
    const running = await waitFor(
      () => liveWithComm(server.marker, 'sleep').length,
      (n) => n === 10,
    );
    assert.equal(running, 10);
    process.kill(server.pid, 'SIGKILL');
    await Promise.all(calls);
    const left = await waitFor(
      () => liveProcessesWithEnv(server.marker),
      (l) => l.length === 0,
      5000,
    );
    assert.deepEqual(left, []);
  });
});

describe('the `--version` probe', () => {
  it('leaves nothing behind, even a process in a session of its own', async (t) => {
    const server = await startTestServer(t, { env: { FAKE_CLAUDE_VERSION_SETSID: '1' } });
    const health = await waitFor(
      async () =>
        structured(await server.call('health_snapshot', { render: 'json', detail: 'full' })),
      (h) => h['claude'] !== null,
    );
    assert.equal((health['claude'] as { version: string }).version, '9.9.9 (Fake Claude Code)');
    const left = await waitFor(
      () => liveProcessesWithEnv(server.marker).filter((p) => p.pid !== server.pid),
      (l) => l.length === 0,
      5000,
    );
    assert.deepEqual(left, []);
  });
});

describe('a background process holding the CLI’s stderr open', () => {
  it('does not hold up the consult, and is gone afterwards', async (t) => {
    const server = await startTestServer(t);
    // A warm thread first, so both timed consults start alike.
    await server.call('consult', { prompt: fake({}, 'warm') });
    const timed = async (directive: object) => {
      const started = performance.now();
      const result = await server.call('consult', { prompt: fake(directive) });
      assert.equal(result.isError, undefined, textOf(result));
      return performance.now() - started;
    };
    const plain = await timed({});
    const held = await timed({ hold_stderr_s: 30 });
    const holder = server.cliLog().at(-1)?.escaped[0];
    assert.ok(holder !== undefined);
    // Waiting for the stream would cost the whole drain bound (2 s) over a plain consult.
    assert.ok(held < plain + 1500, `held ${held.toFixed(0)} ms, plain ${plain.toFixed(0)} ms`);
    assert.equal(isAlive(holder), false, 'the holder was killed with the consult');
  });
});
