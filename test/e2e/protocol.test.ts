import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pkg from '../../package.json' with { type: 'json' };
import { startRawSession } from '../support/raw-session.ts';

const initialize = (id: unknown = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'raw', version: '1' },
  },
});
const errorCode = (m: Record<string, unknown>) =>
  (m['error'] as { code: number } | undefined)?.code;
const errorMessage = (m: Record<string, unknown>) =>
  (m['error'] as { message: string } | undefined)?.message ?? '';

describe('MCP surface over stdio', () => {
  it('initializes as phone_opus with tools, logging and instructions; ping works before initialization', async (t) => {
    const s = startRawSession(t);
    s.send({ jsonrpc: '2.0', id: 'p0', method: 'ping' });
    assert.deepEqual((await s.next((m) => m['id'] === 'p0'))['result'], {});
    s.send(initialize());
    const result = (await s.next((m) => m['id'] === 1))['result'] as Record<string, unknown>;
    assert.deepEqual(result['serverInfo'], { name: 'phone_opus', version: pkg.version });
    assert.deepEqual(result['capabilities'], {
      tools: { listChanged: false },
      logging: {},
      tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
    });
    assert.match(String(result['instructions']), /read-only/);
    assert.match(String(result['instructions']), /minutes/);
  });

  it('refuses tools/list and tools/call before notifications/initialized with -32002', async (t) => {
    const s = startRawSession(t);
    s.send(initialize());
    await s.next((m) => m['id'] === 1);
    s.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    s.send({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'health_snapshot', arguments: {} },
    });
    assert.equal(errorCode(await s.next((m) => m['id'] === 2)), -32002);
    assert.equal(errorCode(await s.next((m) => m['id'] === 3)), -32002);
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    s.send({ jsonrpc: '2.0', id: 4, method: 'tools/list' });
    const tools = ((await s.next((m) => m['id'] === 4))['result'] as { tools: { name: string }[] })
      .tools;
    assert.deepEqual(
      tools.map((tool) => tool.name),
      ['consult', 'consult_result', 'consult_cancel', 'health_snapshot', 'telemetry_snapshot'],
    );
    const annotations = tools.map((tool) => (tool as { annotations?: unknown }).annotations);
    assert.deepEqual(annotations[0], {
      title: 'Consult Claude Code',
      readOnlyHint: true,
      destructiveHint: false,
      openWorldHint: true,
      phoneOpus: { dispatch: 'worker', replayContract: 'never_replay' },
    });
    assert.deepEqual((annotations[1] as { phoneOpus: unknown }).phoneOpus, {
      dispatch: 'host',
      replayContract: 'convergent',
    });
    for (const tool of tools as unknown as { inputSchema: Record<string, unknown> }[]) {
      assert.equal(tool.inputSchema['additionalProperties'], false);
      const properties = tool.inputSchema['properties'] as Record<string, unknown>;
      assert.deepEqual(properties['render'], {
        type: 'string',
        enum: ['porcelain', 'json'],
        description: 'Output rendering. Defaults to porcelain for model-friendly summaries.',
      });
      assert.ok('detail' in properties);
    }
  });

  it('answers bad frames with JSON-RPC errors and keeps serving', async (t) => {
    const s = startRawSession(t);
    await s.initialize();
    s.send('this is not json');
    s.send('{"jsonrpc":"2.0","id":7,"method":"tools/li');
    s.send('[{"jsonrpc":"2.0","id":8,"method":"ping"}]');
    s.send('42');
    s.send({ id: 9, method: 'ping' });
    s.send({ jsonrpc: '2.0', id: 10, method: 'no/such/method' });
    s.send({ jsonrpc: '2.0', id: 11, method: 'tools/call', params: { arguments: {} } });
    s.send({ jsonrpc: '2.0', id: 12, method: 'tools/call', params: 'nope' });
    s.send({ jsonrpc: '2.0', id: 13, method: 'initialize', params: { capabilities: {} } });
    s.send({ jsonrpc: '2.0', method: 'notifications/unknown' });
    s.send({ jsonrpc: '2.0', id: 14, method: 'ping' });
    await s.next((m) => m['id'] === 14);
    const nullIds = s.lines.filter((m) => (m as Record<string, unknown>)['id'] === null) as Record<
      string,
      unknown
    >[];
    assert.deepEqual(
      nullIds.map(errorCode),
      [-32700, -32700, -32600, -32600],
      'parse errors and non-objects answer with id null',
    );
    assert.equal(errorCode(await s.next((m) => m['id'] === 9)), -32600);
    assert.equal(errorCode(await s.next((m) => m['id'] === 10)), -32601);
    assert.equal(errorCode(await s.next((m) => m['id'] === 11)), -32602);
    assert.match(errorMessage(await s.next((m) => m['id'] === 11)), /params\.name/);
    assert.equal(errorCode(await s.next((m) => m['id'] === 12)), -32602);
    assert.equal(errorCode(await s.next((m) => m['id'] === 13)), -32602);
    assert.match(errorMessage(await s.next((m) => m['id'] === 13)), /protocolVersion/);
    // Nothing answered the notification, and every request got exactly one response.
    for (const id of [9, 10, 11, 12, 13, 14])
      assert.equal(s.responsesFor(id).length, 1, `id ${id}`);
    assert.equal(s.lines.length, 1 + 4 + 6);
  });

  it('answers a frame over 4 MiB with -32600 naming the limit and keeps serving', async (t) => {
    const s = startRawSession(t);
    await s.initialize();
    const huge = JSON.stringify({
      jsonrpc: '2.0',
      id: 'big',
      method: 'tools/call',
      params: { name: 'consult', arguments: { prompt: 'x'.repeat(5 * 1024 * 1024) } },
    });
    s.send(huge);
    s.send({ jsonrpc: '2.0', id: 'after', method: 'ping' });
    const error = await s.next((m) => m['id'] === null);
    assert.equal(errorCode(error), -32600);
    assert.match(errorMessage(error), /4194304 byte \(4 MiB\) limit/);
    assert.deepEqual((await s.next((m) => m['id'] === 'after'))['result'], {});
  });

  it('rejects a request id that is still in flight; the first request completes normally', async (t) => {
    const s = startRawSession(t);
    await s.initialize();
    const consult = (id: number, prompt: string) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'consult', arguments: { prompt } },
    });
    s.send(consult(5, 'first #fake {"sleep_ms":800,"result":"first answer"}'));
    s.send(consult(5, 'second'));
    const duplicate = await s.next((m) => m['id'] === 5 && 'error' in m);
    assert.equal(errorCode(duplicate), -32600);
    assert.match(errorMessage(duplicate), /already in flight/);
    const first = await s.next((m) => m['id'] === 5 && 'result' in m);
    assert.match(JSON.stringify(first['result']), /first answer/);
    assert.equal(s.responsesFor(5).length, 2);
    // Once answered, the id may be used again.
    s.send(consult(5, 'third #fake {"result":"third answer"}'));
    await s.next((m) => m['id'] === 5 && JSON.stringify(m).includes('third answer'));
  });

  it('writes nothing but JSON-RPC frames on stdout', async (t) => {
    const s = startRawSession(t);
    await s.initialize();
    s.send({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'consult', arguments: { prompt: 'hi' } },
    });
    await s.next((m) => m['id'] === 1);
    for (const line of s.lines) assert.equal((line as Record<string, unknown>)['jsonrpc'], '2.0');
  });
});
