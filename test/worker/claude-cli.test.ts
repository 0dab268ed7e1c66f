import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildClaudeArgv, claudeChildEnv } from '../../src/worker/claude-cli.ts';

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
});
