import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fake } from '../support/fake.ts';
import { faultOf, startTestServer, textOf } from '../support/server.ts';

/**
 * Found with the real CLI (real-cli-errors.test.ts): on SIGTERM, Claude Code 2.1.197 may end
 * its running Bash tool ("Exit code 137"), run one more model turn, print a success envelope
 * and exit 0. The fake CLI does that deterministically with `answer_on_sigterm`.
 */
describe('a stop that makes the CLI answer', () => {
  it('is still a timeout: an answer produced after the deadline because of the stop is not a success', async (t) => {
    const server = await startTestServer(t);
    const result = await server.call('consult', {
      prompt: fake({
        tools: [{ name: 'Bash', input: { command: 'sleep 30' }, delay_ms: 30_000 }],
        answer_on_sigterm: 'tried: Exit code 137',
      }),
      timeout_s: 3,
    });
    assert.equal(result.isError, true, `a timeout, not: ${textOf(result)}`);
    assert.equal(faultOf(result).fault.code, 'timeout');
    assert.match(faultOf(result).hint?.session_id ?? '', /^[0-9a-f-]{36}$/);
  });
});
