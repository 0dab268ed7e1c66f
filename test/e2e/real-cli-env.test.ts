import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../support/proc.ts';
import { markedProcesses, type RealCliRig, startRealCliRig, tag } from '../support/real-cli.ts';
import { startTestServer, textOf } from '../support/server.ts';

/**
 * A Claude Code that starts phone-opus hands it its own per-session wiring (clients.md). The
 * real CLI a consult runs must get the user's configuration, not the caller's session.
 */
let rig: RealCliRig;
before(async () => {
  rig = await startRealCliRig({ slow: { reply: 'done', delayMs: 2500 } });
});
after(async () => {
  await rig.dispose();
});

const WIRING = {
  CLAUDECODE: '1',
  CLAUDE_CODE_ENTRYPOINT: 'cli',
  CLAUDE_CODE_SESSION_ID: '11111111-2222-3333-4444-555555555555',
  CLAUDE_PROJECT_DIR: '/somewhere/the-callers-project',
  CLAUDE_CODE_MESSAGING_SOCKET: '/tmp/callers-messaging.sock',
  CLAUDE_CODE_MESSAGING_TOKEN: 'callers-token',
  CLAUDE_CODE_LAUNCHED_BY_SESSION_IDS: '11111111-2222-3333-4444-555555555555',
  CLAUDE_CODE_SSE_PORT: '45678',
};

describe('the environment of the real CLI', () => {
  it("carries the user's configuration and none of the calling session's wiring", async (t) => {
    const notes = join(rig.root, 'callers-notes');
    mkdirSync(notes);
    const server = await startTestServer(t, {
      env: { ...rig.env, ...WIRING, CLAUDE_CODE_CHILD_NOTES_DIR: notes },
    });
    const consult = server.call('consult', {
      prompt: `take your time ${tag('slow')}`,
      cwd: rig.workDir('env'),
    });
    // The CLI itself (its process title is the path it was started by), below the guard shell.
    const [cli] = await waitFor(
      () => markedProcesses(server.marker, /^\S*\.bin\/claude -p /),
      (found) => found.length > 0,
      20_000,
      50,
    );
    assert.ok(cli !== undefined, 'the real CLI was found running');
    const environ = Object.fromEntries(
      readFileSync(`/proc/${cli.pid}/environ`, 'utf8')
        .split('\0')
        .filter((entry) => entry.includes('='))
        .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    );
    const result = await consult;
    assert.equal(result.isError, undefined, textOf(result));
    for (const name of [...Object.keys(WIRING), 'CLAUDE_CODE_CHILD_NOTES_DIR']) {
      assert.equal(environ[name], undefined, `${name} reached the consult's CLI`);
    }
    assert.equal(environ['ANTHROPIC_BASE_URL'], rig.api.url, 'user configuration passes');
    assert.equal(environ['ANTHROPIC_API_KEY'], 'test-key');
    assert.equal(environ['CLAUDE_CONFIG_DIR'], rig.configDir);
    assert.deepEqual(readdirSync(notes), [], "nothing was written to the caller's notes");
  });
});
