import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pkg from '../../package.json' with { type: 'json' };
import { fake } from '../support/fake.ts';
import { survivors, waitFor } from '../support/proc.ts';
import { startRawSession } from '../support/raw-session.ts';

/** The per-request envelope of protocol 2026-07-28 (no initialize handshake). */
const envelope = (extra: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'raw-2026', version: '1' },
  ...extra,
});
const modern = (id: unknown, method: string, params: Record<string, unknown> = {}, meta = {}) => ({
  jsonrpc: '2.0',
  id,
  method,
  params: { ...params, _meta: envelope(meta) },
});
/** A 2025-era `initialize` request (id 'i') offering `version`. */
const initialize = (version: string) => ({
  jsonrpc: '2.0',
  id: 'i',
  method: 'initialize',
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'old', version: '1' } },
});
const errorOf = (m: Record<string, unknown>) =>
  m['error'] as { code: number; message: string; data?: Record<string, unknown> };
const resultOf = (m: Record<string, unknown>) => m['result'] as Record<string, unknown>;
const SERVER_INFO = { name: 'phone_opus', version: pkg.version };

describe('protocol 2026-07-28 (stateless, no initialize)', () => {
  it('answers server/discover, tools/list and host tools with resultType and serverInfo', async (t) => {
    const s = startRawSession(t);
    s.send(modern('d', 'server/discover'));
    const discover = resultOf(await s.next((m) => m['id'] === 'd'));
    assert.ok((discover['supportedVersions'] as string[]).includes('2026-07-28'));
    assert.deepEqual(discover['capabilities'], {
      tools: { listChanged: false },
      logging: {},
      extensions: { 'io.modelcontextprotocol/tasks': {} },
    });
    assert.match(String(discover['instructions']), /read-only/);
    assert.equal(discover['resultType'], 'complete');
    assert.deepEqual(
      (discover['_meta'] as Record<string, unknown>)['io.modelcontextprotocol/serverInfo'],
      SERVER_INFO,
    );
    s.send(modern('l', 'tools/list'));
    const list = resultOf(await s.next((m) => m['id'] === 'l'));
    const tools = list['tools'] as {
      name: string;
      _meta: unknown;
      inputSchema: Record<string, unknown>;
    }[];
    assert.deepEqual(
      tools.map((tool) => tool.name),
      ['consult', 'consult_result', 'consult_cancel', 'health_snapshot', 'telemetry_snapshot'],
      'a deterministic order',
    );
    assert.equal(tools[0]?.inputSchema['additionalProperties'], false);
    assert.deepEqual(tools[0]?._meta, {
      phoneOpus: { dispatch: 'worker', replayContract: 'never_replay' },
    });
    assert.equal(list['resultType'], 'complete');
    s.send(modern('h', 'tools/call', { name: 'health_snapshot', arguments: {} }));
    const health = resultOf(await s.next((m) => m['id'] === 'h'));
    assert.match((health['content'] as { text: string }[])[0]?.text ?? '', /^cold gen=1 /);
    assert.equal(health['resultType'], 'complete');
    s.send(modern('bad', 'tools/call', { name: 'consult', arguments: { prompt: 'x', nope: 1 } }));
    const bad = resultOf(await s.next((m) => m['id'] === 'bad'));
    assert.equal(bad['isError'], true);
    assert.match(JSON.stringify(bad['structuredContent']), /nope: unknown argument/);
  });

  it('runs a consult with progress, and a cancelled consult stops its CLI and never answers', async (t) => {
    const s = startRawSession(t, { PHONE_OPUS_PROGRESS_INTERVAL_MS: '100' });
    s.send(
      modern(
        'c1',
        'tools/call',
        {
          name: 'consult',
          arguments: { prompt: fake({ sleep_ms: 400, result: 'modern answer' }) },
        },
        { progressToken: 'tok' },
      ),
    );
    const answer = resultOf(await s.next((m) => m['id'] === 'c1'));
    assert.match((answer['content'] as { text: string }[])[0]?.text ?? '', /modern answer/);
    const lines = s.lines as Record<string, unknown>[];
    const progress = lines.filter((m) => m['method'] === 'notifications/progress');
    assert.ok(progress.length >= 2, JSON.stringify(progress));
    assert.equal(
      (progress[0]?.['params'] as Record<string, unknown> | undefined)?.['progressToken'],
      'tok',
    );

    s.send(
      modern('c2', 'tools/call', {
        name: 'consult',
        arguments: { prompt: fake({ sleep_ms: 30_000 }) },
      }),
    );
    const runs = await waitFor(
      () => s.cliRuns() as { pid: number }[],
      (r) => r.length === 2,
    );
    s.send({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: 'c2', reason: 'user', _meta: envelope() },
    });
    const cli = runs[1]?.pid as number;
    assert.deepEqual(await survivors([cli], 5000), []);
    await s.settle(envelope());
    assert.equal(s.responsesFor('c2').length, 0);
    // No log notification unless the request's _meta asked for a level.
    assert.equal(lines.filter((m) => m['method'] === 'notifications/message').length, 0);
  });

  it('refuses an unsupported protocol version with -32022 naming the supported ones', async (t) => {
    const s = startRawSession(t);
    s.send(
      modern('v', 'tools/list', {}, { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }),
    );
    const error = errorOf(await s.next((m) => m['id'] === 'v'));
    assert.equal(error.code, -32022);
    assert.deepEqual(error.data?.['requested'], '2099-01-01');
    assert.ok(((error.data?.['supported'] ?? []) as string[]).includes('2026-07-28'));
  });

  it('refuses a later request in a version it does not speak, and keeps serving', async (t) => {
    const s = startRawSession(t);
    s.send(modern('l', 'tools/list'));
    await s.next((m) => m['id'] === 'l');
    s.send(
      modern('v', 'tools/list', {}, { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }),
    );
    const error = errorOf(await s.next((m) => m['id'] === 'v'));
    assert.equal(error.code, -32022);
    assert.deepEqual(error.data, { supported: ['2026-07-28'], requested: '2099-01-01' });
    s.send(modern('h', 'tools/call', { name: 'health_snapshot', arguments: {} }));
    assert.equal(resultOf(await s.next((m) => m['id'] === 'h'))['resultType'], 'complete');
  });

  it('keeps the protocol hygiene of SPEC §4', async (t) => {
    const s = startRawSession(t);
    s.send(modern('d', 'server/discover'));
    await s.next((m) => m['id'] === 'd');
    s.send('not json');
    s.send(
      modern(7, 'tools/call', { name: 'consult', arguments: { prompt: fake({ sleep_ms: 600 }) } }),
    );
    s.send(modern(7, 'tools/call', { name: 'health_snapshot', arguments: {} }));
    s.send({
      jsonrpc: '2.0',
      id: 8,
      method: 'tools/call',
      params: { name: 'health_snapshot', _meta: { ...envelope(), progressToken: 1.5 } },
    });
    s.send(modern(9, 'tools/list', { cursor: 5 }));
    assert.equal(errorOf(await s.next((m) => m['id'] === null)).code, -32700);
    const duplicate = errorOf(await s.next((m) => m['id'] === 7 && 'error' in m));
    assert.equal(duplicate.code, -32600);
    assert.equal(errorOf(await s.next((m) => m['id'] === 8)).code, -32602);
    assert.equal(errorOf(await s.next((m) => m['id'] === 9)).code, -32602);
    await s.next((m) => m['id'] === 7 && 'result' in m);
  });
});

describe('2025-era clients', () => {
  for (const version of ['2025-11-25', '2025-06-18', '2025-03-26']) {
    it(`initialize ${version}: that version, -32002 before initialized, then tools work`, async (t) => {
      const s = startRawSession(t);
      s.send(initialize(version));
      const init = resultOf(await s.next((m) => m['id'] === 'i'));
      assert.equal(init['protocolVersion'], version);
      assert.deepEqual(init['serverInfo'], SERVER_INFO);
      s.send({ jsonrpc: '2.0', id: 'early', method: 'tools/list' });
      assert.equal(errorOf(await s.next((m) => m['id'] === 'early')).code, -32002);
      s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      s.send({ jsonrpc: '2.0', id: 'l', method: 'tools/list' });
      const list = resultOf(await s.next((m) => m['id'] === 'l'));
      assert.equal((list['tools'] as unknown[]).length, 5);
      assert.equal(list['resultType'], undefined, 'the 2025 wire has no resultType');
      s.send({ jsonrpc: '2.0', id: 'p', method: 'ping' });
      assert.deepEqual(resultOf(await s.next((m) => m['id'] === 'p')), {});
    });
  }

  for (const [opening, probe] of [
    ['server/discover', () => modern('probe', 'server/discover')],
    [
      'a refused 2026 request',
      () =>
        modern(
          'probe',
          'tools/list',
          {},
          { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' },
        ),
    ],
  ] as const) {
    it(`falling back to initialize after ${opening}: the 2025 rules apply`, async (t) => {
      const s = startRawSession(t);
      s.send(probe());
      await s.next((m) => m['id'] === 'probe');
      s.send(initialize('2025-11-25'));
      assert.equal(resultOf(await s.next((m) => m['id'] === 'i'))['protocolVersion'], '2025-11-25');
      s.send({ jsonrpc: '2.0', id: 'early', method: 'tools/list' });
      assert.equal(errorOf(await s.next((m) => m['id'] === 'early')).code, -32002);
      s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      s.send({ jsonrpc: '2.0', id: 'lvl', method: 'logging/setLevel', params: { level: 'loud' } });
      const level = errorOf(await s.next((m) => m['id'] === 'lvl'));
      assert.equal(level.code, -32602);
      assert.match(level.message, /params\.level must be one of/);
      s.send({ jsonrpc: '2.0', id: 'l', method: 'tools/list' });
      const list = resultOf(await s.next((m) => m['id'] === 'l'));
      assert.equal((list['tools'] as unknown[]).length, 5);
      assert.equal(list['resultType'], undefined, 'the 2025 wire');
    });
  }

  it('counter-offers the latest 2025 revision to an unknown one; server/discover is not a 2025 method', async (t) => {
    const s = startRawSession(t);
    s.send(initialize('1999-01-01'));
    assert.equal(resultOf(await s.next((m) => m['id'] === 'i'))['protocolVersion'], '2025-11-25');
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    s.send(modern('d', 'server/discover'));
    assert.equal(errorOf(await s.next((m) => m['id'] === 'd')).code, -32601);
  });
});
