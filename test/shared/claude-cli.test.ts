import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildClaudeArgv, claudeChildEnv } from '../../src/shared/claude-cli.ts';

describe('buildClaudeArgv', () => {
  it('passes optional flags only when given, never the prompt, never a bypass flag', () => {
    const bare = buildClaudeArgv({ prompt: '-rf /', cwd: '/' });
    assert.equal(bare.includes('-rf /'), false);
    assert.equal(bare.includes('--max-turns'), false);
    assert.equal(
      bare.some((a) => /dangerously|bypass/i.test(a)),
      false,
    );
    assert.deepEqual(bare.slice(-4), [
      '--tools',
      'Bash,Read,Grep,Glob,WebFetch,WebSearch',
      '--permission-mode',
      'dontAsk',
    ]);
    const resume = buildClaudeArgv({ prompt: 'x', cwd: '/', resumeSessionId: 'abc' });
    assert.deepEqual(resume.slice(-2), ['--resume', 'abc']);
  });

  it('removes the variables that make the CLI refuse to start nested', () => {
    assert.deepEqual(
      claudeChildEnv({ A: '1', CLAUDECODE: '1', CLAUDE_CODE_ENTRYPOINT: 'cli', B: undefined }),
      { A: '1' },
    );
  });

  it("strips the calling session's wiring and keeps the user's configuration", () => {
    const user = {
      ANTHROPIC_API_KEY: 'k',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:1',
      CLAUDE_CODE_OAUTH_TOKEN: 't',
      CLAUDE_CODE_USE_BEDROCK: '1',
      CLAUDE_CODE_USE_VERTEX: '1',
      CLAUDE_CONFIG_DIR: '/c',
      HTTPS_PROXY: 'http://proxy',
      NO_PROXY: 'localhost',
      CLAUDE_CODE_MAX_RETRIES: '0',
      PATH: '/bin',
    };
    const wiring = {
      CLAUDECODE: '1',
      CLAUDE_CODE_ENTRYPOINT: 'cli',
      CLAUDE_CODE_SESSION_ID: 's',
      CLAUDE_PROJECT_DIR: '/p',
      CLAUDE_CODE_MESSAGING_SOCKET: '/s',
      CLAUDE_CODE_MESSAGING_TOKEN: 'x',
      CLAUDE_CODE_CHILD_NOTES_DIR: '/n',
      CLAUDE_CODE_LAUNCHED_BY_SESSION_IDS: 'a,b',
      CLAUDE_CODE_SSE_PORT: '1234',
    };
    assert.deepEqual(claudeChildEnv({ ...user, ...wiring }), user);
  });
});
