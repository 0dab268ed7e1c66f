import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTestServer, textOf } from '../support/server.ts';

const sessionOf = (result: { structuredContent?: unknown }) =>
  String((result.structuredContent as Record<string, unknown>)['session_id']);

describe('servers sharing a state dir', () => {
  it("keep each other's session records: either one resumes any session where it started", async (t) => {
    const a = await startTestServer(t);
    const b = await startTestServer(t, { env: { PHONE_OPUS_STATE_DIR: a.stateDir } });
    const workA = join(a.dir, 'project-a');
    const workB = join(b.dir, 'project-b');
    mkdirSync(workA);
    mkdirSync(workB);
    // Interleaved: each server learns a session while the other already holds its own view.
    const sessions: [string, string][] = [];
    for (let i = 0; i < 3; i++) {
      for (const [server, work] of [
        [a, workA],
        [b, workB],
      ] as const) {
        const result = await server.call('consult', { prompt: `p${i}`, cwd: work, render: 'json' });
        sessions.push([sessionOf(result), realpathSync(work)]);
      }
    }
    for (const [server, name] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      for (const [sessionId, cwd] of sessions) {
        const before = server.cliLog().length;
        const resumed = await server.call('consult', { prompt: 'continue', session_id: sessionId });
        assert.equal(resumed.isError, undefined, textOf(resumed));
        const run = server.cliLog()[before];
        assert.equal(run?.cwd, cwd, `server ${name} resumed ${sessionId} where it started`);
      }
    }
  });

  it('reads the session map of earlier versions, and says so when it is unreadable', async (t) => {
    const first = await startTestServer(t);
    const work = join(first.dir, 'legacy');
    mkdirSync(work);
    const id = '0b1e6a4e-6d1f-4c61-9a53-0c7f6a0c2d11';
    writeFileSync(
      join(first.stateDir, 'sessions.json'),
      JSON.stringify({ [id]: realpathSync(work) }),
    );
    await first.call('consult', { prompt: 'continue', session_id: id });
    assert.equal(first.cliLog()[0]?.cwd, realpathSync(work));

    const second = await startTestServer(t);
    writeFileSync(join(second.stateDir, 'sessions.json'), '{"truncated":');
    await second.call('consult', { prompt: 'continue', session_id: id });
    assert.match(second.stderr(), /session map .*sessions\.json is unreadable/);
  });
});
