import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameSplitter } from '../../../src/host/mcp/frame-splitter.ts';

function split(chunks: (string | Buffer)[], maxBytes = 64, end = false) {
  const seen: string[] = [];
  const splitter = new FrameSplitter(maxBytes, {
    frame: (line) => seen.push(line),
    oversized: () => seen.push('<oversized>'),
  });
  for (const chunk of chunks) splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  if (end) splitter.end();
  return seen;
}

describe('FrameSplitter', () => {
  it('cuts lines across chunk boundaries, trims, and skips blank lines', () => {
    assert.deepEqual(split(['{"a"', ':1}\n\n  {"b":2}  \r', '\n{"c"']), ['{"a":1}', '{"b":2}']);
  });

  it('keeps a multi-byte character split between chunks', () => {
    const bytes = Buffer.from('{"s":"é中"}\n');
    assert.deepEqual(split([bytes.subarray(0, 7), bytes.subarray(7)]), ['{"s":"é中"}']);
  });

  it('drops an oversized frame without holding it, reports it once its end comes, and goes on', () => {
    const big = 'x'.repeat(100);
    assert.deepEqual(split([big.slice(0, 50), big.slice(50), '\n{"ok":1}\n']), [
      '<oversized>',
      '{"ok":1}',
    ]);
  });

  it('delivers a last frame without a newline at the end of input', () => {
    assert.deepEqual(split(['{"a":1}\n{"b":2}'], 64, false), ['{"a":1}']);
    assert.deepEqual(split(['{"a":1}\n{"b":2}'], 64, true), ['{"a":1}', '{"b":2}']);
    assert.deepEqual(split(['x'.repeat(100)], 64, true), ['<oversized>']);
    assert.deepEqual(split(['{"a":1}\n'], 64, true), ['{"a":1}']);
  });
});
