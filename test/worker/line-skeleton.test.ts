import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSkeleton } from '../../src/worker/line-skeleton.ts';

/** Feed `line` in pieces of the given sizes (cycled), as reads of a growing file would. */
function read(line: string, sizes: readonly number[]) {
  const answer: string[] = [];
  const skeleton = new LineSkeleton(() => ({ write: (text) => answer.push(text) }));
  let at = 0;
  for (let i = 0; at < line.length; i++) {
    const size = sizes[i % sizes.length] as number;
    skeleton.push(line.slice(at, at + size));
    at += size;
  }
  return {
    skeleton: JSON.parse(skeleton.end()) as Record<string, unknown>,
    answer: answer.join(''),
    chars: skeleton.answerChars,
  };
}

describe('LineSkeleton', () => {
  const tricky = 'a"b\\c\nd\u0001e/😀f\u2028g é 中文 \ud83d\ude00';
  const envelope = {
    type: 'result',
    subtype: 'success',
    is_error: false,
    usage: { input_tokens: 1, nested: { result: 'not the answer' } },
    result: tricky.repeat(5000),
    session_id: 's-1',
    total_cost_usd: 0.5,
    permission_denials: [{ tool_name: 'Bash', tool_input: { command: 'x'.repeat(100_000) } }],
  };
  const line = JSON.stringify(envelope);

  for (const sizes of [[1], [7, 3, 1, 11], [4096], [line.length]]) {
    it(`streams the top-level result out and keeps the rest (pieces ${sizes.join('/')})`, () => {
      const { skeleton, answer, chars } = read(line, sizes);
      assert.equal(answer, envelope.result, 'the answer is decoded exactly, surrogates intact');
      assert.equal(chars, envelope.result.length);
      assert.equal(skeleton['result'], '');
      assert.equal(skeleton['session_id'], 's-1');
      assert.equal(skeleton['total_cost_usd'], 0.5);
      assert.deepEqual(skeleton['usage'], envelope.usage, 'a nested "result" key is left alone');
      const denial = (skeleton['permission_denials'] as { tool_input: { command: string } }[])[0];
      assert.equal(denial?.tool_input.command, '', 'long strings are emptied');
    });
  }

  it('has no answer when the line has no top-level result string', () => {
    const { skeleton, answer } = read(
      JSON.stringify({
        type: 'assistant',
        message: { content: [{ type: 'text', text: 'y'.repeat(200_000) }] },
      }),
      [1000],
    );
    assert.equal(answer, '');
    assert.equal(skeleton['type'], 'assistant');
  });
});
