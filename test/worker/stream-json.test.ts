import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProgressEvent } from '../../src/shared/wire.ts';
import { describeToolUse, StreamJsonReader } from '../../src/worker/stream-json.ts';

const lines = (...events: object[]) => events.map((e) => `${JSON.stringify(e)}\n`).join('');

describe('StreamJsonReader', () => {
  it('reports the session, counts API messages as turns, names tool uses, keeps the result', () => {
    const seen: ProgressEvent[] = [];
    const reader = new StreamJsonReader((e) => seen.push(e));
    const text = lines(
      { type: 'system', subtype: 'init', session_id: 's1', model: 'm1' },
      {
        type: 'assistant',
        session_id: 's1',
        message: { id: 'a', content: [{ type: 'text', text: 'hi' }] },
      },
      {
        type: 'assistant',
        session_id: 's1',
        message: {
          id: 'a',
          content: [{ type: 'tool_use', name: 'Read', input: { file_path: 'src/app.ts' } }],
        },
      },
      { type: 'user', session_id: 's1', message: { content: [] } },
      {
        type: 'assistant',
        session_id: 's1',
        message: { id: 'b', content: [{ type: 'text', text: 'done' }] },
      },
      { type: 'result', session_id: 's1', subtype: 'success', is_error: false, result: 'done' },
    );
    // Split mid-line to prove incremental parsing.
    reader.push(text.slice(0, 37));
    reader.push(text.slice(37));
    const summary = reader.end();
    assert.equal(summary.sessionId, 's1');
    assert.equal(summary.model, 'm1');
    assert.equal(summary.turns, 2);
    assert.equal(summary.result?.['result'], 'done');
    assert.deepEqual(seen[0], { kind: 'session', session_id: 's1', model: 'm1' });
    assert.deepEqual(
      seen.filter((e) => e.kind === 'turn'),
      [
        { kind: 'turn', turn: 1, tools: [] },
        { kind: 'turn', turn: 1, tools: ['Read src/app.ts'] },
        { kind: 'turn', turn: 2, tools: [] },
      ],
    );
  });

  it('keeps junk for the error message and handles a final line without newline', () => {
    const reader = new StreamJsonReader(() => {});
    reader.push('not json\n{"type":"result","is_error":false}');
    const summary = reader.end();
    assert.equal(summary.junk, 'not json\n');
    assert.equal(summary.result?.['is_error'], false);
  });

  it('summarises tool inputs briefly', () => {
    assert.equal(
      describeToolUse({ type: 'tool_use', name: 'Bash', input: { command: 'git   log\n-5' } }),
      'Bash git log -5',
    );
    assert.equal(describeToolUse({ type: 'tool_use', name: 'Glob', input: {} }), 'Glob');
    assert.equal(
      describeToolUse({ type: 'tool_use', name: 'Grep', input: { pattern: 'x'.repeat(200) } })
        .length,
      85,
    );
  });
});
