import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FakeScript } from '../support/fake-anthropic-api.ts';
import { waitFor } from '../support/proc.ts';
import {
  type MarkedProcess,
  markedProcesses,
  type RealCliRig,
  startRealCliRig,
  tag,
} from '../support/real-cli.ts';
import { faultOf, startTestServer, type TestServer, textOf } from '../support/server.ts';

/**
 * The real Claude Code CLI against the fake Messages API: API errors, turn and budget limits,
 * and cancel/timeout while a Bash tool command (`sleep 30`, allowed under dontAsk) runs in a
 * session of its own. Success paths are in real-cli.test.ts.
 */

let rig: RealCliRig;
before(async () => {
  rig = await startRealCliRig({
    e401: { errorStatus: 401 },
    e429: { errorStatus: 429 },
    e529: { errorStatus: 529 },
    e500: { errorStatus: 500 },
    sleep: { toolCalls: [{ name: 'Bash', input: { command: 'sleep 30' } }], reply: 'slept' },
  });
});
after(async () => {
  await rig.dispose();
});

const SLEEP = /^sleep 30$/;

describe('real Claude Code CLI: failures are classified', () => {
  it('maps 401 to auth, 429/529 to rate_limit, 500 to api_error, without retries', async (t) => {
    const server = await startTestServer(t, { env: rig.env });
    const cases: [string, number, string][] = [
      ['e401', 401, 'auth'],
      ['e429', 429, 'rate_limit'],
      ['e529', 529, 'rate_limit'],
      ['e500', 500, 'api_error'],
    ];
    for (const [name, status, reason] of cases) {
      const result = await server.call('consult', {
        prompt: `fail please ${tag(name)}`,
        cwd: rig.workDir(name),
      });
      assert.equal(result.isError, true, `${status}: ${textOf(result)}`);
      const fault = faultOf(result);
      assert.equal(fault.fault.code, 'downstream_failure', `${status}`);
      assert.equal(fault.reason, reason, `${status}: ${fault.fault.detail}`);
      assert.match(fault.fault.detail, new RegExp(`${status}`), fault.fault.detail);
      assert.match(fault.hint?.session_id ?? '', /^[0-9a-f-]{36}$/, `${status}`);
      assert.equal(rig.requestsOf(name).length, 1, `${status}: CLAUDE_CODE_MAX_RETRIES=0`);
    }
  });

  it('maps error_max_turns to max_turns, error_max_budget_usd to budget, an unknown session to cli_error', async (t) => {
    const server = await startTestServer(t, { env: rig.env });
    const work = rig.workDir('limits');
    const file = join(work, 'fixture.txt');
    writeFileSync(file, 'limits\n');
    const twoTurns: FakeScript = {
      toolCalls: [{ name: 'Read', input: { file_path: file } }],
      reply: 'done',
    };
    rig.setCase('turns', twoTurns);
    const turns = faultOf(
      await server.call('consult', { prompt: `read ${tag('turns')}`, cwd: work, max_turns: 1 }),
    );
    assert.equal(turns.fault.code, 'downstream_failure');
    assert.equal(turns.reason, 'max_turns', turns.fault.detail);
    assert.match(turns.fault.detail, /Reached maximum number of turns \(1\)/);
    assert.match(turns.hint?.session_id ?? '', /^[0-9a-f-]{36}$/);

    // A huge (fake) token count makes the first turn cost far more than the budget.
    rig.setCase('budget', { ...twoTurns, outputTokens: 1_000_000 });
    const budget = faultOf(
      await server.call('consult', {
        prompt: `read ${tag('budget')}`,
        cwd: work,
        max_budget_usd: 0.01,
      }),
    );
    assert.equal(budget.fault.code, 'downstream_failure');
    assert.equal(budget.reason, 'budget', budget.fault.detail);

    // A session id the CLI has never seen: no API request, the CLI's own error is quoted.
    const unknown = faultOf(
      await server.call('consult', {
        prompt: `resume ${tag('unknown')}`,
        cwd: work,
        session_id: '00000000-0000-4000-8000-000000000000',
      }),
    );
    assert.equal(unknown.fault.code, 'downstream_failure');
    assert.equal(unknown.reason, 'cli_error', unknown.fault.detail);
    assert.match(unknown.fault.detail, /No conversation found/);
    assert.equal(rig.requestsOf('unknown').length, 0);
  });
});

/**
 * Wait (bounded) until the scripted `sleep 30` of this server's CLI runs; undefined if the
 * consult ended first.
 */
async function sleeping(
  server: TestServer,
  consult: Promise<unknown>,
): Promise<MarkedProcess | undefined> {
  let ended = false;
  void consult.then(
    () => {
      ended = true;
    },
    () => {
      ended = true;
    },
  );
  const found = await waitFor(
    () => markedProcesses(server.marker, SLEEP),
    (l) => l.length > 0 || ended,
    20_000,
    50,
  );
  assert.ok(found.length <= 1, JSON.stringify(found));
  const sleep = found[0];
  if (sleep !== undefined) {
    // The Bash tool runs its command in a session (and group) of its own, out of reach of a
    // signal to the CLI's group: this is why phone-opus tracks tree members one by one.
    const cli = markedProcesses(server.marker, /\/claude -p /)[0];
    if (cli !== undefined) {
      assert.notEqual(sleep.sid, cli.sid);
      assert.notEqual(sleep.pgid, cli.pgid);
    }
  }
  return sleep;
}

/** No `sleep 30` of this server may survive (bounded: the SIGTERM grace is 3 s). */
async function assertNoSleepLeft(server: TestServer): Promise<void> {
  const left = await waitFor(
    () => markedProcesses(server.marker, SLEEP),
    (l) => l.length === 0,
    8000,
    50,
  );
  assert.deepEqual(left, [], `survivors (pid/ppid/pgid/sid): ${JSON.stringify(left)}`);
}

describe('real Claude Code CLI: stopping a run kills its whole tree', () => {
  it('cancel (client AbortSignal) while Bash runs sleep 30', async (t) => {
    const server = await startTestServer(t, { env: rig.env });
    const controller = new AbortController();
    const pending = server.call(
      'consult',
      { prompt: `sleep ${tag('sleep')}`, cwd: rig.workDir('cancel') },
      { signal: controller.signal },
    );
    pending.catch(() => {});
    const seen = await sleeping(server, pending);
    assert.ok(seen, 'the Bash tool started sleep 30');
    controller.abort();
    await assert.rejects(pending);
    await assertNoSleepLeft(server);
    const telemetry = (await server.call('telemetry_snapshot', { render: 'json' }))
      .structuredContent as Record<string, unknown>;
    assert.equal(telemetry['cancellations'], 1);
  });

  it('timeout_s while Bash runs sleep 30', async (t) => {
    const server = await startTestServer(t, { env: rig.env });
    // The timer must fire while the sleep runs. The CLI normally reaches the Bash tool in
    // about 1.5 s, but 4-10 s on this shared 2-core box under load, so a run whose timeout
    // fired before the sleep began is repeated once with a longer timeout (it proves nothing).
    for (const timeoutS of [6, 15]) {
      const started = Date.now();
      const pending = server.call(
        'consult',
        { prompt: `sleep ${tag('sleep')}`, cwd: rig.workDir('timeout'), timeout_s: timeoutS },
        { timeout: 60_000 },
      );
      const seen = await sleeping(server, pending);
      const result = await pending;
      // On SIGTERM the CLI may abort its Bash tool, run one more turn with "Exit code 137" as
      // the tool result, print a success envelope and exit 0: the host must still call it a
      // timeout (deterministic twin: stop-race.test.ts).
      assert.equal(result.isError, true, `a timeout, not: ${textOf(result)}`);
      const fault = faultOf(result);
      assert.equal(fault.fault.code, 'timeout', textOf(result));
      assert.ok(Date.now() - started < (timeoutS + 10) * 1000);
      if (seen === undefined) {
        t.diagnostic(`timeout_s=${timeoutS} fired before the Bash tool ran; retrying`);
        continue;
      }
      assert.match(fault.hint?.session_id ?? '', /^[0-9a-f-]{36}$/);
      // 1, or 2 when the CLI squeezed in its post-SIGTERM turn (it is in the session then).
      assert.ok([1, 2].includes(fault.hint?.num_turns ?? 0), textOf(result));
      await assertNoSleepLeft(server);
      return;
    }
    assert.fail('the Bash tool never ran before the timeout');
  });
});
