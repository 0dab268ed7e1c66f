import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkParams } from '../../../src/host/mcp/request-checks.ts';

describe('checkParams', () => {
  it('accepts well-formed params of the methods it knows, and any params of others', () => {
    const fine: [string, Record<string, unknown>][] = [
      [
        'initialize',
        {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'c', version: '1' },
        },
      ],
      ['tools/call', { name: 'consult', arguments: {}, _meta: { progressToken: 7 } }],
      ['tools/call', { name: 'consult', _meta: { progressToken: 'p', other: null } }],
      ['tools/list', { cursor: 'x' }],
      ['logging/setLevel', { level: 'warning' }],
      ['ping', {}],
      ['something/else', { anything: [1] }],
    ];
    for (const [method, params] of fine)
      assert.equal(checkParams(method, params), undefined, method);
  });

  it('names the field and the rule of what it refuses', () => {
    const bad: [string, Record<string, unknown>, RegExp][] = [
      ['tools/call', { name: 'x', _meta: null }, /params\._meta must be an object/],
      ['ping', { _meta: 5 }, /params\._meta must be an object/],
      [
        'tools/call',
        { name: 'x', _meta: { progressToken: 1.5 } },
        /progressToken must be a string or an integer/,
      ],
      ['tools/call', { name: 'x', _meta: { progressToken: null } }, /progressToken/],
      ['tools/call', { name: 'x', _meta: { progressToken: { a: 1 } } }, /progressToken/],
      [
        'tools/call',
        { name: 'x', _meta: { 'io.modelcontextprotocol/related-task': 'x' } },
        /related-task/,
      ],
      [
        'initialize',
        { capabilities: {}, clientInfo: { name: 'c', version: '1' } },
        /protocolVersion/,
      ],
      [
        'initialize',
        { protocolVersion: 'v', capabilities: {}, clientInfo: { name: 1 } },
        /clientInfo/,
      ],
      ['tools/call', { arguments: {} }, /params\.name must be a string/],
      ['tools/call', { name: 'x', arguments: [1] }, /arguments must be an object/],
      ['tools/list', { cursor: 5 }, /cursor must be a string/],
      ['logging/setLevel', { level: 'loud' }, /level must be one of debug, info, notice/],
    ];
    for (const [method, params, rule] of bad) {
      assert.match(
        checkParams(method, params) ?? 'accepted',
        rule,
        `${method} ${JSON.stringify(params)}`,
      );
    }
  });
});
